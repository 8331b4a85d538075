"""The browser app against the real stack (the "Show" list of issue 3)."""

from __future__ import annotations

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
            ["Ann", "Bob (you)"], ["Ann (you)", "Bob"],
        )
    # Bob's two messages are grouped under one name.
    assert ann.page.locator("#messages li.cont").count() == 1
    ann.screenshot("two-pages-ann")
    bob.screenshot("two-pages-bob")
