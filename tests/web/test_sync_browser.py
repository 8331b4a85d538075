"""Sync in the browser (docs/sync.md): the indicator, driven by a real Sync
component whose cloud is unreachable, says how many messages wait; a message
said earlier at another site shows in its place, not at the end."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from tests.support.edge import Edge, free_port, running_edge, system_client
from tests.web.conftest import FAST, room_name

from edgechat.cloud.local import certs
from edgechat.cloud.local.up import issue_core_certificate
from edgechat.core.clock import Hlc, hlc_of, order_key

# How many messages the indicator says wait (0 when it names none).
WAITING = (
    "Number((/(\\d+) messages? waiting/"
    ".exec(document.getElementById('sync-state').textContent) || [0, 0])[1])"
)


@pytest.fixture(scope="module")
def edge(tmp_path_factory) -> Iterator[Edge]:
    root = tmp_path_factory.mktemp("web-sync")
    ca = certs.ensure_ca(root / "ca")
    cert = issue_core_certificate(root / "ca", "site-w")
    settings = {
        **FAST, "site_id": "site-w", "sync_url": f"mqtts://127.0.0.1:{free_port()}",  # nobody listens
        "sync_cert_file": str(cert.cert), "sync_key_file": str(cert.key), "sync_ca_file": str(ca.cert),
    }  # fmt: skip
    with running_edge(root / "data", settings) as e:
        yield e


def test_the_page_shows_how_many_messages_wait_for_the_cloud(open_tab):
    ann = open_tab("Ann", room_name("sync"))
    ann.page.wait_for_selector('#sync-state[data-status="offline"]')
    before = int(ann.page.evaluate(WAITING))
    ann.send("one")
    ann.send("two")
    ann.wait_texts("one", "two", state="sent")
    ann.page.wait_for_function(f"() => ({WAITING}) === {before + 2}")
    assert ann.page.text_content("#sync-state") == f"Cloud offline: {before + 2} messages waiting to sync"
    assert ann.page.get_attribute("#sync-state", "role") == "status" and not ann.errors


def test_a_message_said_earlier_at_another_site_shows_in_its_place(open_tab, edge):
    room = room_name("late")
    ann = open_tab("Ann", room)
    ann.send("first here")
    ann.send("second here")
    ann.wait_texts("first here", "second here", state="sent")
    db = sqlite3.connect(f"file:{edge.data_dir / 'store' / 'messages.db'}?mode=ro", uri=True)
    try:
        first = db.execute(
            "SELECT order_key, ts FROM messages WHERE room = ? ORDER BY seq LIMIT 1", (room,)
        ).fetchone()
    finally:
        db.close()
    # Said at site-b just after the first (same clock, one tick on), delivered
    # only now, as Sync hands the Router what a backfill brought.
    hlc = hlc_of(first[0])
    late = {"type": "message", "id": "latefromb0001", "room": room, "text": "said at site b in between",
            "clientId": "bob", "nick": "Bob", "site": "site-b", "ts": first[1],
            "orderKey": order_key(Hlc(hlc.wall_ms, hlc.counter + 1), "site-b", "latefromb0001")}  # fmt: skip
    sysc = system_client(edge)
    try:
        sysc.subscribe("edgechat/sync/stored")
        sysc.send({"type": "inject", "requestId": "late1", "messages": [late]}, "edgechat/sync/in")
        sysc.wait_for(lambda t, b: b.get("requestId") == "late1" and b.get("type") == "stored")
    finally:
        sysc.close()
    ann.wait_texts("said at site b in between")
    assert ann.texts()[-3:] == ["first here", "said at site b in between", "second here"]
    seqs = dict(edge.stored(room))
    assert seqs["latefromb0001"] == 3  # this site's next seq: gap-free, though shown second
