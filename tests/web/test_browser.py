"""The browser app against the real stack (the "Show" list of issue 3)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from tests.support.edge import ChatClient, Edge
from tests.web.conftest import room_name

STATES_JS = """() => {
  window.__states = {};
  const note = (li) => {
    const seen = (window.__states[li.dataset.id] ||= []);
    if (seen[seen.length - 1] !== li.dataset.state) seen.push(li.dataset.state);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes") note(r.target);
      for (const n of r.addedNodes || []) if (n.dataset && n.dataset.id) note(n);
    }
  }).observe(document.getElementById("messages"),
             {childList: true, subtree: true, attributes: true, attributeFilter: ["data-state"]});
}"""


def test_two_pages_chat(open_tab):
    room = room_name("two")
    ann = open_tab("Ann", room)
    bob = open_tab("Bob", room)
    ann.page.evaluate(STATES_JS)
    ann.send("Hi Bob, the forklift is back in bay 3")
    bob.wait_texts("Hi Bob, the forklift is back in bay 3")
    ann.wait_texts("Hi Bob, the forklift is back in bay 3", state="sent")
    bob.send("Thanks Ann!")
    bob.send("I'll pick it up at 2")
    ann.wait_texts("Thanks Ann!", "I'll pick it up at 2")
    bob.wait_texts("Thanks Ann!", "I'll pick it up at 2", state="sent")

    states = ann.page.evaluate("window.__states")
    mine = ann.messages()[0]
    assert mine["sender"] == ann.client_id()
    assert states[mine["id"]] == ["pending", "sent"]
    for tab in (ann, bob):
        texts = tab.texts()
        assert texts == ["Hi Bob, the forklift is back in bay 3", "Thanks Ann!", "I'll pick it up at 2"]
        assert [m["state"] for m in tab.messages()] == ["sent"] * 3
        assert sorted(tab.page.locator("#members li").all_text_contents()) in (
            ["Ann", "Bob (you)"],
            ["Ann (you)", "Bob"],
        )
    # Bob's two messages are grouped under one name.
    assert ann.page.locator("#messages li.cont").count() == 1
    ann.screenshot("two-pages-ann")
    bob.screenshot("two-pages-bob")


def _seed(client: ChatClient, room: str, count: int) -> list[str]:
    """Sends ``count`` messages as fast as the broker takes them; waits for
    every ack.  Returns the texts in send order."""
    texts = [f"seed {i:03d}" for i in range(count)]
    inbox = f"chat/in/{client.client_id}"
    for i, text in enumerate(texts):
        client.client.publish(
            f"chat/out/{client.client_id}",
            json.dumps({"type": "message", "id": f"seed-{room}-{i:04d}", "room": room, "text": text}),
            qos=1,
        )
    client.wait_for(lambda t, b: t == inbox and b.get("type") == "ack", timeout_s=30, count=count)
    assert not [e for e in client.events(inbox, "error")], client.events(inbox, "error")
    return texts


def test_late_page_sees_history_and_loads_older_without_gaps(open_tab, paho):
    room = room_name("history")
    count = 230
    texts = _seed(paho("Seeder", room), room, count)
    carol = open_tab("Carol", room)
    carol.wait_texts(texts[-1])
    first_page = carol.messages()
    assert 0 < len(first_page) < count
    assert [m["text"] for m in first_page] == texts[-len(first_page) :]
    older = carol.page.locator("#load-older")
    pages = 0
    while older.is_visible():
        shown = len(carol.messages())
        try:
            older.click(timeout=5_000)
        except PlaywrightTimeout:
            if older.is_hidden():  # a scroll-triggered load fetched the last page
                break
            raise
        carol.page.wait_for_function(
            "n => document.querySelectorAll('#messages li').length > n"
            " || document.getElementById('load-older').hidden",
            arg=shown,
        )
        pages += 1
        assert pages < 20
    carol.page.wait_for_selector("#history-start", state="visible")
    shown = carol.messages()
    assert [m["seq"] for m in shown] == list(range(1, count + 1))
    assert [m["text"] for m in shown] == texts
    assert len({m["id"] for m in shown}) == count
    assert all(m["state"] == "sent" for m in shown)
    carol.screenshot("history-loaded")


def test_paho_client_and_page_chat(open_tab, paho):
    room = room_name("paho")
    dave = open_tab("Dave", room)
    device = paho("Sensor-7", room)
    dave.send("hello device")
    pub = f"chat/pub/{room}"
    _, event = device.wait_for(lambda t, b: t == pub and b.get("text") == "hello device", 30)[0]
    assert event["nick"] == "Dave" and event["clientId"] == dave.client_id()
    device.send({"type": "message", "id": "device-msg-0001", "room": room, "text": "temperature 21.5 C"})
    dave.wait_texts("temperature 21.5 C")
    shown = {m["text"]: m for m in dave.messages()}
    assert shown["temperature 21.5 C"]["nick"] == "Sensor-7"
    assert dave.texts().count("temperature 21.5 C") == 1
    dave.page.wait_for_selector(f'#members li[data-client-id="{device.client_id}"]', state="attached")


def test_reload_keeps_nick_and_shows_history(open_tab):
    room = room_name("reload")
    erin = open_tab("Erin", room)
    client_id = erin.client_id()
    for text in ("before reload 1", "before reload 2"):
        erin.send(text)
    erin.wait_texts("before reload 1", "before reload 2", state="sent")
    erin.page.reload()
    erin.banner("connected")
    erin.wait_texts("before reload 1", "before reload 2", state="sent")
    assert not erin.page.locator("#nick-dialog").is_visible()
    assert erin.page.text_content("#nick-label") == "Erin"
    assert erin.client_id() == client_id  # the tab keeps its session
    assert erin.texts() == ["before reload 1", "before reload 2"]
    erin.send("after reload")
    erin.wait_texts("after reload", state="sent")
    assert [m["nick"] for m in erin.messages()] == ["Erin"] * 3
    # A new nick: remembered on the device, and the room sees it.
    erin.page.click("#nick-button")
    erin.page.fill("#nick-input", "Erin B")
    erin.page.press("#nick-input", "Enter")
    erin.page.wait_for_selector(f'#members li[data-client-id="{client_id}"]:has-text("Erin B")')
    assert erin.page.evaluate("localStorage.getItem('edgechat.nick')") == '"Erin B"'


def _wait_broker_restarted(edge: Edge, old_pid: int, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        broker = edge.status().get("broker", {})
        if broker.get("running") and broker.get("pid") not in (None, old_pid):
            return
        time.sleep(0.1)
    raise AssertionError("the broker was not restarted")


def _signed_in(paho: Callable[..., ChatClient], nick: str, room: str, timeout_s: float = 20.0) -> ChatClient:
    """A paho client, once the restarted broker and the Router take requests."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return paho(nick, room)
        except (OSError, AssertionError, TimeoutError, subprocess.CalledProcessError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_broker_restart_page_reconnects_and_backfills(open_tab, paho, edge):
    room = room_name("restart")
    fay = open_tab("Fay", room)
    fay.send("before the restart")
    fay.wait_texts("before the restart", state="sent")
    old_pid = edge.status()["broker"]["pid"]
    os.kill(old_pid, signal.SIGKILL)
    fay.banner("reconnecting")
    fay.screenshot("broker-restart-reconnecting")
    _wait_broker_restarted(edge, old_pid)
    other = _signed_in(paho, "Gus", room)
    sent = [f"while you were away {i}" for i in range(3)]
    for i, text in enumerate(sent):
        other.send({"type": "message", "id": f"away-{room}-{i}", "room": room, "text": text})
    fay.banner("connected", timeout_ms=30_000)
    fay.wait_texts(*sent)
    fay.send("after the restart")
    fay.wait_texts("after the restart", state="sent")
    texts = fay.texts()
    assert texts == ["before the restart", *sent, "after the restart"]
    seqs = [m["seq"] for m in fay.messages()]
    assert seqs == list(range(1, 6))


def test_offline_messages_are_delivered_once(open_tab, paho):
    room = room_name("offline")
    hal = open_tab("Hal", room)
    device = paho("Ivy", room)
    hal.page.context.set_offline(True)
    hal.banner("offline")
    queued = [f"typed offline {i}" for i in range(3)]
    for text in queued:
        hal.send(text)
    hal.wait_texts(*queued, state="queued")
    device.send({"type": "message", "id": f"meanwhile-{room}", "room": room, "text": "sent meanwhile"})
    hal.screenshot("offline-queued")
    hal.page.context.set_offline(False)
    hal.banner("connected")
    hal.wait_texts(*queued, state="sent")
    hal.wait_texts("sent meanwhile")
    assert sorted(hal.texts()) == sorted([*queued, "sent meanwhile"])
    # Once each for the others, and once each in the store.
    pub = f"chat/pub/{room}"
    device.wait_for(lambda t, b: t == pub and b.get("text") in queued, 30, count=3)
    history = device.request({"type": "history", "room": room, "limit": 50}, "history", 30)
    stored = [m["text"] for m in history["messages"]]
    assert sorted(stored) == sorted([*queued, "sent meanwhile"])
    received = [e["text"] for e in device.events(pub, "message")]
    assert sorted(received) == sorted([*queued, "sent meanwhile"])


EVIL_NICK = "<b>b</b><script>alert(5)</script"
XSS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    '"><svg onload=alert(3)>',
    "<iframe src=javascript:alert(4)>",
]


def test_user_content_is_shown_as_text(open_tab, paho):
    room = room_name("xss")
    mallory = open_tab(XSS[0], room)
    victim = open_tab("Victim", room)
    device = paho(EVIL_NICK, room)
    for text in XSS:
        mallory.send(text)
    mallory.wait_texts(*XSS, state="sent")  # stored before the device's, for a known order
    device.send({"type": "message", "id": f"xss-device-{room}", "room": room, "text": XSS[1]})
    for tab in (victim, mallory):
        tab.wait_texts(*XSS, state="sent")
        tab.wait_count(len(XSS) + 1)  # and the device's
        shown = tab.messages()
        assert [m["text"] for m in shown] == [*XSS, XSS[1]]
        assert shown[0]["nick"] == XSS[0]
        assert shown[-1]["nick"] == EVIL_NICK
        markup = "#messages img, #messages script, #messages svg, #messages iframe, #messages b"
        assert tab.page.locator(markup).count() == 0
        members = tab.page.locator("#members li").all_text_contents()
        assert any(XSS[0] in m for m in members)
        assert tab.page.locator("#members img, #members script, #members b").count() == 0
        assert tab.page.evaluate("typeof window.__pwned") == "undefined"
    # Room names: refused with the name shown literally, never used as markup.
    victim.page.fill("#room-input", XSS[0])
    victim.page.press("#room-input", "Enter")
    error = victim.page.locator("#room-error")
    error.wait_for(state="visible")
    assert XSS[0] in error.text_content()
    victim.page.evaluate("location.hash = '#/room/' + encodeURIComponent('<script>alert(6)</script>')")
    victim.page.wait_for_function(
        "document.getElementById('room-error').textContent.includes('<script>alert(6)</script>')"
    )
    assert victim.page.locator("body img, body script:not([src]), body svg").count() == 0
    victim.screenshot("xss-literal")


def test_phone_layout_keyboard_and_new_room(open_tab):
    lobby = room_name("phone")
    jo = open_tab("Jo", lobby, viewport={"width": 390, "height": 740})
    page = jo.page
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.is_visible("#composer") and not page.is_visible("#sidebar")
    # Keyboard only: the rooms toggle, then a new room by name.
    page.focus("#rooms-toggle")
    page.keyboard.press("Enter")
    page.wait_for_selector("#sidebar", state="visible")
    assert page.get_attribute("#rooms-toggle", "aria-expanded") == "true"
    new_room = room_name("new")
    page.focus("#room-input")
    page.keyboard.type(new_room.upper())  # names are case-insensitive
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/#/room/{new_room}")
    page.wait_for_selector("#composer", state="visible")
    assert page.text_content("#room-title") == f"#{new_room}"
    page.focus("#text")
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    page.keyboard.press("Enter")
    jo.wait_texts("first line\nsecond line", state="sent")
    page.wait_for_selector(f'#members li[data-client-id="{jo.client_id()}"]', state="attached")
    # Every control has a name a screen reader can say.
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('button, input, textarea')].filter(el => {
             if (el.offsetParent === null) return false;
             const label = el.labels && el.labels.length ? el.labels[0].textContent : '';
             return !(label || el.getAttribute('aria-label') || el.textContent.trim());
           }).map(el => el.id)"""
    )
    assert unnamed == []
    jo.screenshot("phone")
    # The shared URL opens the same room in another device's browser.
    kim = open_tab("Kim", new_room)
    kim.wait_texts("first line\nsecond line")


def test_revoked_or_expired_session_is_replaced(open_tab, edge):
    room = room_name("revoke")
    noa = open_tab("Noa", room)
    old_id = noa.client_id()
    noa.page.context.set_offline(True)
    noa.banner("offline")
    # "--": a client id may start with "-" (token_urlsafe), which argparse takes for a flag.
    revoke = ["credentials", "revoke", "--data-dir", str(edge.data_dir), "--", old_id]
    subprocess.run([sys.executable, "-m", "edgechat", *revoke], check=True, capture_output=True, timeout=60)
    noa.send("still here")
    noa.page.context.set_offline(False)
    # The broker refuses the old credential; the tab asks for a new session.
    noa.page.wait_for_function(
        "old => { const s = JSON.parse(sessionStorage.getItem('edgechat.session'));"
        " return s && s.clientId !== old; }",
        arg=old_id,
    )
    noa.banner("connected")
    noa.wait_texts("still here", state="sent")
    assert noa.client_id() != old_id
    assert noa.page.text_content("#nick-label") == "Noa"


def test_a_duplicated_tab_gets_its_own_client_id(open_tab):
    room = room_name("dup")
    oli = open_tab("Oli", room)
    first_id = oli.client_id()
    # "Duplicate tab" copies sessionStorage: simulate it in a second tab of the same browser.
    session = oli.page.evaluate("sessionStorage.getItem('edgechat.session')")
    copy = oli.page.context.new_page()
    copy.add_init_script(f"sessionStorage.setItem('edgechat.session', {json.dumps(session)})")
    copy.goto(oli.page.url)
    copy.wait_for_function(
        "old => { const s = JSON.parse(sessionStorage.getItem('edgechat.session'));"
        " return s && s.clientId !== old; }",
        arg=first_id,
    )
    copy.wait_for_selector('#banner[data-status="connected"]')
    copy.fill("#text", "from the copy")
    copy.press("#text", "Enter")
    oli.wait_texts("from the copy")
    # The first tab kept its id and its connection.
    oli.banner("connected")
    assert oli.client_id() == first_id
    oli.send("from the first")
    oli.wait_texts("from the first", state="sent")
    copy.close()
