from hypothesis import given
from hypothesis import strategies as st

from edgechat.core.clock import Hlc, hlc_of, order_key

times = st.integers(min_value=0, max_value=2**44)


def test_tick_follows_the_wall_clock_and_never_goes_back():
    c = Hlc().tick(1000)
    assert c == Hlc(1000, 0)
    assert c.tick(1000) == Hlc(1000, 1)
    assert c.tick(900) == Hlc(1000, 1)  # the wall clock went back (a Pi without RTC)
    assert c.tick(2000) == Hlc(2000, 0)


def test_counter_overflow_borrows_the_next_millisecond():
    assert Hlc(5, 0xFFFF).tick(5) == Hlc(6, 0)


@given(st.lists(times, min_size=1, max_size=50))
def test_ticks_are_strictly_increasing_whatever_the_wall_clock_does(walls):
    clock = Hlc()
    for wall in walls:
        nxt = clock.tick(wall)
        assert nxt > clock
        clock = nxt


@given(times, st.integers(0, 100), times, st.integers(0, 100), times)
def test_observe_is_after_both_clocks(lw, lc, rw, rc, now):
    local, remote = Hlc(lw, lc), Hlc(rw, rc)
    seen = local.observe(remote, now)
    assert seen > local and seen > remote and seen.wall_ms >= now


@given(times, st.integers(0, 0xFFFF))
def test_encode_round_trips_and_sorts_like_the_clock(wall, counter):
    c = Hlc(wall, counter)
    assert Hlc.decode(c.encode()) == c
    assert (c.encode() < c.tick(wall).encode()) == (c < c.tick(wall))


ids = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=1, max_size=20
)
sites = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10)


@given(st.lists(st.tuples(times, st.integers(0, 9), sites, ids), min_size=2, max_size=30))
def test_order_keys_sort_like_clock_then_site_then_id(rows):
    keyed = [(order_key(Hlc(w, c), s, i), (Hlc(w, c), s, i)) for w, c, s, i in rows]
    assert [t for _, t in sorted(keyed)] == sorted(t for _, t in keyed)
    assert all(hlc_of(k) == t[0] for k, t in keyed)
