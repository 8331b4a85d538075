"""The browser app's stream features against the real stack: who is typing,
reactions, a LAN device's readings (docs/stream.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from tests.support.edge import Edge, running_edge
from tests.web.conftest import FAST, room_name

TYPING_TTL_MS = 2000


@pytest.fixture(scope="module")
def edge(tmp_path_factory) -> Iterator[Edge]:
    # A short typing TTL, so "disappears by itself" takes two seconds, not six.
    settings = {**FAST, "stream": {"typing_ttl_ms": TYPING_TTL_MS}}
    with running_edge(tmp_path_factory.mktemp("web-stream") / "data", settings) as e:
        yield e


def test_b_sees_a_typing_within_a_second_and_it_disappears_by_itself(open_tab):
    room = room_name("typing")
    a = open_tab("Ann", room)
    b = open_tab("Bob", room)
    b.page.wait_for_selector(f'#members li[data-client-id="{a.client_id()}"]', state="attached")
    started = time.monotonic()
    a.page.type("#text", "hel")
    b.page.wait_for_function(
        "() => document.getElementById('typing').textContent === 'Ann is typing…'", timeout=1000
    )
    shown_after = time.monotonic() - started
    assert a.page.text_content("#typing") == ""  # nobody is told about themselves
    # Ann stops (the text stays in the box, nothing else is sent): gone by itself.
    b.page.wait_for_function(
        "() => document.getElementById('typing').textContent === ''", timeout=TYPING_TTL_MS + 3000
    )
    gone_after = time.monotonic() - started
    assert shown_after < 1.0 and gone_after >= TYPING_TTL_MS / 1000 - 0.5


def test_a_reaction_from_a_shows_as_a_count_on_b(open_tab):
    room = room_name("react")
    a = open_tab("Ann", room)
    b = open_tab("Bob", room)
    a.send("vote on me")
    b.wait_texts("vote on me")
    (mid,) = [m["id"] for m in b.messages() if m["text"] == "vote on me"]
    a.page.click(f'#messages li[data-id="{mid}"] button[data-emoji="🎉"]')
    button = f'#messages li[data-id="{mid}"] button[data-emoji="🎉"]'
    b.page.wait_for_selector(f'{button}[data-count="1"]')
    assert b.page.text_content(f"{button} .n") == "1"
    assert a.page.get_attribute(button, "aria-pressed") == "true"
    assert b.page.get_attribute(button, "aria-pressed") == "false"
    # Bob adds his: two; a page opened later gets the stored count.
    b.page.click(button)
    a.page.wait_for_selector(f'{button}[data-count="2"]')
    b.page.type("#text", "typing so Ann sees it")
    a.page.wait_for_function("() => document.getElementById('typing').textContent === 'Bob is typing…'")
    a.screenshot("stream-reactions-typing")
    c = open_tab("Cy", room)
    c.wait_texts("vote on me")
    c.page.wait_for_selector(f'{button}[data-count="2"]')
    # Ann takes hers back.
    a.page.click(button)
    b.page.wait_for_selector(f'{button}[data-count="1"]')


def test_a_device_s_readings_show_in_its_room_with_a_live_chart(open_tab, paho):
    room = room_name("lab")
    b = open_tab("Bob", room)
    device = paho("thermo", room)
    b.page.wait_for_selector(f'#members li[data-client-id="{device.client_id}"]', state="attached")
    for value in (20.5, 21.0, 22.25):
        device.send(
            {"type": "reading", "room": room, "sensor": "temp", "value": value, "unit": "°C"},
            f"chat/stream/{device.client_id}",
        )
        time.sleep(0.3)  # separate windows: one chart point each
    card = f'#readings figure[data-client-id="{device.client_id}"][data-sensor="temp"]'
    b.page.wait_for_function(
        "sel => document.querySelector(sel)?.querySelector('.latest').textContent === '22.25 °C'",
        arg=card,
    )
    assert b.page.text_content(f"{card} .who") == "thermo · temp"
    points = b.page.get_attribute(f"{card} svg polyline", "points")
    assert points is not None and len(points.split()) >= 2
    b.screenshot("stream-readings")
    # Drawn node by node: an svg element in the SVG namespace.
    assert (
        b.page.evaluate(f"document.querySelector('{card} svg').namespaceURI") == "http://www.w3.org/2000/svg"
    )


def test_b_reads_a_s_message_and_a_sees_it_seen_by_b(open_tab):
    room = room_name("read")
    a = open_tab("Ann", room)
    b = open_tab("Bob", room)
    a.send("did you read this?")
    b.wait_texts("did you read this?", state="sent")
    (first,) = [m["id"] for m in a.messages() if m["text"] == "did you read this?"]
    # Bob's page has it on screen: it sends a read mark; Ann's shows it under her message.
    seen = f'#messages li[data-id="{first}"] .seen'
    a.page.wait_for_selector(seen)
    assert a.page.text_content(seen) == "Seen by Bob"
    # Ann read it too (her page sent a mark): Bob sees that, nobody sees their own.
    b.page.wait_for_selector(f'#messages li[data-id="{first}"] .seen')
    assert b.page.text_content("#messages .seen") == "Seen by Ann"
    a.send("and this one?")
    b.wait_texts("and this one?")
    (second,) = [m["id"] for m in a.messages() if m["text"] == "and this one?"]
    # The mark moves to the latest message Bob has read: one label, not two.
    a.page.wait_for_selector(f'#messages li[data-id="{second}"] .seen')
    labels = a.page.eval_on_selector_all("#messages .seen", "ps => ps.map(p => p.textContent)")
    assert labels == ["Seen by Bob"]
    a.screenshot("stream-seen-by")
