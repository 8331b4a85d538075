"""Message lifecycle, moderation and the typed control channel in the browser
(issue 9's "Show" list), against a real core."""

from __future__ import annotations

import json
import time

from tests.support.edge import ChatClient, system_client
from tests.web.conftest import Tab, room_name


def text_of(tab: Tab, message_id: str) -> str:
    return tab.page.locator(f'#messages li[data-id="{message_id}"] .text').text_content()


def refused_soon(edge, username: str, password: str, within_s: float = 10.0) -> bool:
    """Whether the broker refuses these credentials within ``within_s`` (the
    Router revokes half a second after telling the client; the broker reloads
    on SIGHUP in its own time)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        probe = ChatClient(edge.mqtt_port, username, password, will=False)
        try:
            if probe.connect() != 0:
                return True
            probe.close()
        finally:
            probe.client.loop_stop()
        time.sleep(0.2)
    return False


def act(tab: Tab, message_id: str, action: str) -> None:
    """Click a message's action button, shown on hover as a person sees it."""
    item = f'#messages li[data-id="{message_id}"]'
    tab.page.hover(item)
    tab.page.click(f"{item} button.{action}")


def sign_in_as_moderator(tab: Tab, edge) -> str:
    creds = json.loads(edge.cli("credentials", "new", "--moderator").stdout)
    tab.page.click("#mod-login-open")
    tab.page.fill("#mod-client-id", json.dumps(creds))  # pasted as printed
    tab.page.click("#mod-login-save")
    tab.page.wait_for_selector("#console-open", state="visible")
    tab.banner("connected")
    return creds["clientId"]


def test_edit_and_delete_own_message_and_the_other_page_follows(open_tab, edge):
    room = room_name("life")
    ann, bob = open_tab("Ann", room), open_tab("Bob", room)
    ann.send("the truck leaves at 5")
    bob.wait_texts("the truck leaves at 5")
    mid = ann.messages()[0]["id"]
    item = f'#messages li[data-id="{mid}"]'
    act(ann, mid, "edit")
    ann.page.fill(f"{item} .edit-box", "the truck leaves at 6")
    ann.page.press(f"{item} .edit-box", "Enter")
    bob.wait_texts("the truck leaves at 6")
    bob.page.wait_for_selector(f"{item} .edited-mark")
    assert bob.page.locator(f"{item} button.edit").count() == 0  # not Bob's to change
    # a reply shows what it answers
    act(bob, mid, "reply")
    bob.send("ok, 6 it is")
    ann.wait_texts("ok, 6 it is")
    reply = ann.page.locator("#messages li .reply-ref")
    reply.wait_for()
    assert reply.text_content() == "↪ Ann: the truck leaves at 6"
    assert bob.page.locator(f"{item} .reactions").is_visible()
    act(ann, mid, "delete")
    for tab in (ann, bob):
        tab.page.wait_for_selector(f"{item}.deleted")
        assert text_of(tab, mid) == "Message deleted"
        tab.page.wait_for_selector(f"{item} .reactions", state="hidden")  # nothing left to react to
    # a new page loads the latest state from history
    carl = open_tab("Carl", room)
    carl.wait_texts("ok, 6 it is")
    carl.page.wait_for_selector(f"{item}.deleted")
    assert carl.page.locator(f"{item} .reactions").is_hidden()
    assert "the truck leaves" not in carl.page.locator("#messages").text_content()


def test_a_moderator_deletes_mutes_and_bans(open_tab, edge):
    room = room_name("mod")
    mod, bob = open_tab("Mia", room), open_tab("Bob", room)
    sign_in_as_moderator(mod, edge)
    bob.send("buy cheap watches")
    mod.wait_texts("buy cheap watches")
    mid = mod.messages()[-1]["id"]
    act(mod, mid, "delete")
    bob.page.wait_for_selector(f'#messages li[data-id="{mid}"].deleted')

    # the console lists Bob; mute him from there
    mod.page.click("#console-open")
    bob_id = bob.client_id()
    person = f'#console li[data-client-id="{bob_id}"]'
    mod.page.click(f'{person} button[data-mod="mute"]')
    bob.page.wait_for_selector("#speech-note:not([hidden])")
    bob.send("still here")
    bob.page.wait_for_function(
        "() => [...document.querySelectorAll('#messages li[data-state=failed] .status')]"
        ".some(s => s.textContent.includes('muted'))"
    )
    assert "muted" in bob.page.locator("#notices").text_content()
    mod.page.wait_for_selector(f"{person} .badge")  # the console shows the mute
    mod.screenshot("moderation-console")
    bob.screenshot("moderation-muted")

    # ban: Bob's page says so, and his credential no longer opens the broker
    creds = bob.page.evaluate("JSON.parse(sessionStorage.getItem('edgechat.session'))")
    mod.page.click(f'{person} button[data-mod="ban"]')
    bob.page.wait_for_selector("#removed")
    assert "removed" in bob.page.locator("#removed h2").text_content()
    mod.page.wait_for_function(
        "id => !document.querySelector(`#members li[data-client-id='${id}']`)", arg=bob_id
    )
    assert refused_soon(edge, creds["username"], creds["password"])
    mod.page.wait_for_function("() => document.querySelector('#console-audit').textContent.includes(' ban ')")
    assert "join again after" in bob.page.locator("#removed .until").text_content()

    # The ban sticks: reloading asks for a fresh session, and this address is refused.
    unban = f'#console-bans li[data-client-id="{bob_id}"] button[data-mod="unban"]'
    lifted = False
    try:
        bob.page.reload()
        bob.page.wait_for_selector("#removed .until")
        assert bob.page.evaluate("sessionStorage.getItem('edgechat.session')") is None
        # The console lists the ban; its Unban button lifts it.
        mod.page.click(unban)
        mod.page.wait_for_function(
            "() => document.querySelector('#console-audit').textContent.includes(' unban ')"
        )
        lifted = True
    finally:
        if not lifted:
            edge.cli("mod", "unban", bob_id)  # frees 127.0.0.1 for the tests after this one
    mod.page.wait_for_selector(unban, state="detached")
    bob.page.reload()
    bob.banner("connected")
    assert bob.client_id() != bob_id
    assert not bob.page.locator("#removed").count()


def test_control_events_carrying_script_text_run_nothing(open_tab, edge):
    room = room_name("ctl")
    ann = open_tab("Ann", room)
    ann.page.evaluate("window.__pwned = 0")
    script = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    system = system_client(edge, "test-control")
    try:
        inbox, pub = f"chat/in/{ann.client_id()}", f"chat/pub/{room}"
        events = [
            (inbox, {"type": "notice", "text": script}),
            (inbox, {"type": "appUpdate", "version": script, "note": "javascript:window.__pwned=3"}),
            (inbox, {"type": "eval", "code": "window.__pwned=4"}),  # unknown: ignored
            (inbox, {"type": "script", "src": "data:text/javascript,window.__pwned=5"}),
            (inbox, {"type": "muted", "room": room, "muted": True, "untilTs": script}),
            (pub, {"type": "announcement", "room": room, "text": script, "nick": script}),
            (pub, {"type": "roomLocked", "room": "<b>x</b>", "locked": True}),
            (inbox, {"type": "notice", "text": "last one"}),
        ]
        for topic, event in events:
            system.send(event, topic)
    finally:
        system.close()
    ann.page.wait_for_function("() => document.querySelector('#notices').textContent.includes('last one')")
    assert ann.page.evaluate("window.__pwned") == 0
    assert script in ann.page.locator("#notices").text_content()  # shown as the text it is
    assert ann.page.locator("#pinned .pinned-text").text_content() == script
    assert ann.page.locator("#app-update").is_visible()
    assert ann.page.locator("#notices img, #pinned img, #app-update img, script:not([src])").count() == 0
    ann.send("still chatting")  # nothing broke
    ann.wait_texts("still chatting", state="sent")
