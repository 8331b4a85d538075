"""The picture in docs/web.md and the README: a fresh core (so room names are
plain), three people and a device.  Saved as test-artifacts/web-chat.png; copy
it to docs/img/ when the look changes."""

from __future__ import annotations


def test_screenshot_of_a_room(open_tab, paho):
    ann = open_tab("Ann", "warehouse", viewport={"width": 1100, "height": 640})
    open_tab("Raj", "lobby")
    bob = open_tab("Bob", "warehouse")
    device = paho("forklift-3", "warehouse")
    ann.send("Morning! Is forklift 3 charged?")
    device.send({"type": "message", "id": "shot-battery-0001", "room": "warehouse",
                 "text": "battery 92 %, parked in bay 3"})  # fmt: skip
    ann.wait_texts("battery 92 %, parked in bay 3")
    bob.send("Great, I'll take it for the 10:30 delivery")
    bob.send("Back by noon")
    ann.wait_texts("Back by noon")
    ann.send("Thanks!")
    ann.wait_texts("Thanks!", state="sent")
    ann.page.click("#refresh-rooms")
    ann.page.wait_for_selector('#room-list li[data-room="lobby"]')
    ann.page.locator("#text").blur()
    ann.screenshot("web-chat")
