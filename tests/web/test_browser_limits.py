"""The app against a core with the default rate limit (5/s, burst 20), and a
Router that stops answering: queued messages are paced, failures retried with
the same id."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator

import pytest
from tests.support.edge import Edge, running_edge
from tests.web.conftest import Tab, room_name

MAX_SESSIONS = 3  # per address (the tests here open fewer pages than that)


@pytest.fixture(scope="module")
def edge(tmp_path_factory) -> Iterator[Edge]:
    settings = {"max_sessions_per_address": MAX_SESSIONS}
    with running_edge(tmp_path_factory.mktemp("web-limits") / "data", settings) as e:
        yield e


def test_a_long_offline_queue_is_paced_under_the_rate_limit(open_tab, paho):
    room = room_name("queue")
    lea = open_tab("Lea", room)
    lea.page.context.set_offline(True)
    lea.banner("offline")
    texts = [f"queued {i:02d}" for i in range(24)]  # more than the burst of 20
    for text in texts:
        lea.send(text)
    lea.wait_texts(*texts, state="queued")
    lea.page.context.set_offline(False)
    lea.wait_texts(*texts, state="sent", timeout_ms=30_000)
    assert [m["state"] for m in lea.messages()] == ["sent"] * 24
    reader = paho("Reader", room)
    history = reader.request({"type": "history", "room": room, "limit": 50}, "history", 30)
    assert sorted(m["text"] for m in history["messages"]) == texts


def test_no_answer_fails_and_retry_reuses_the_id(open_tab, paho, edge):
    room = room_name("retry")
    max_ = open_tab("Max", room)
    watcher = paho("Watcher", room)
    assert edge.process is not None
    os.kill(edge.process.pid, signal.SIGSTOP)  # the Router (and Web) freeze; the broker runs on
    try:
        max_.send("are you there?")
        max_.wait_texts("are you there?", state="failed", timeout_ms=25_000)
        max_.screenshot("send-failed")
        max_.page.click("#messages li[data-state=failed] button.retry")
        max_.wait_texts("are you there?", state="pending")
    finally:
        os.kill(edge.process.pid, signal.SIGCONT)
    max_.wait_texts("are you there?", state="sent")
    pub = f"chat/pub/{room}"
    watcher.wait_for(lambda t, b: t == pub and b.get("text") == "are you there?", 30)
    # Two sends of one id: one stored message, one broadcast, one line on screen.
    history = watcher.request({"type": "history", "room": room, "limit": 10}, "history", 30)
    assert [m["text"] for m in history["messages"]] == ["are you there?"]
    assert [e["text"] for e in watcher.events(pub, "message")] == ["are you there?"]
    assert max_.texts() == ["are you there?"]


def test_a_page_from_a_full_address_says_so_and_gets_in_once_one_is_freed(browser, edge):
    held = []  # fill this address's sessions (the pages above may hold some)
    while (answer := edge.new_session())[0] == 201:
        held.append(answer[1])
        assert len(held) <= MAX_SESSIONS
    assert answer[1]["code"] == "too_many_sessions"
    context = browser.new_context()
    try:
        tab = Tab(context.new_page())
        tab.page.goto(f"http://127.0.0.1:{edge.http_port}/#/room/{room_name('full')}")
        tab.page.fill("#nick-input", "Zoe")
        tab.page.click("#nick-save")
        tab.banner("full")
        assert "Too many chat sessions" in tab.page.text_content("#banner-text")
        issued = json.loads((edge.data_dir / "broker" / "clients.address.json").read_text())
        edge.cli("credentials", "revoke", held[0]["clientId"] if held else next(iter(issued)))
        tab.page.reload()  # the app would look again in a minute by itself
        tab.banner("connected")
    finally:
        context.close()
