from edgechat.core.ratelimit import Bucket, RateLimit


def test_a_burst_then_a_steady_rate():
    limit = RateLimit(per_second=5, burst=3)
    b = Bucket.full(limit, 0)
    waits = []
    for _ in range(4):
        b, wait = b.take(limit, 0)
        waits.append(wait)
    assert waits == [0, 0, 0, 200]  # the fourth must wait a fifth of a second
    b, wait = b.take(limit, 200)
    assert wait == 0


def test_unlimited_never_waits():
    limit = RateLimit(per_second=0, burst=1)
    b = Bucket.full(limit, 0)
    for _ in range(1000):
        b, wait = b.take(limit, 0)
        assert wait == 0


def test_refill_is_capped_at_the_burst():
    limit = RateLimit(per_second=10, burst=2)
    b = Bucket.full(limit, 0)
    b, _ = b.take(limit, 0)
    assert b.is_full(limit, 1_000_000)
    b, _ = b.take(limit, 1_000_000)
    b, _ = b.take(limit, 1_000_000)
    _, wait = b.take(limit, 1_000_000)
    assert wait > 0
