"""The session endpoint on a real core: a ban keeps the banned session's
address out until it is lifted, and one address holds a bounded number of
live sessions (core/admission.py, web/admission.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration.test_moderation import moderator
from tests.support.edge import ChatClient, Edge, running_edge

MAX = 3


@pytest.fixture(scope="module")
def edge(tmp_path_factory) -> Iterator[Edge]:
    with running_edge(tmp_path_factory.mktemp("sessions") / "data", {"max_sessions_per_address": MAX}) as e:
        yield e


def revoke_all(edge: Edge, sessions: list[dict[str, Any]]) -> None:
    for creds in sessions:
        edge.cli("credentials", "revoke", creds["clientId"], check=False)


def test_a_banned_address_gets_no_new_session_until_unbanned(edge):
    status, creds = edge.new_session()
    assert status == 201
    bob = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
    assert bob.connect() == 0
    bob.subscribe(f"chat/in/{bob.client_id}")
    assert bob.request({"type": "hello", "nick": "Bob"}, "welcome")["type"] == "welcome"
    mod = moderator(edge)
    try:
        mod.request({"type": "ban", "clientId": bob.client_id, "reason": "spam", "minutes": 30}, "moderated")
        ((_, banned),) = bob.wait_for(lambda t, b: isinstance(b, dict) and b.get("type") == "banned")
        assert abs(banned["untilTs"] - (time.time() * 1000 + 30 * 60_000)) < 60_000
        assert bob.disconnected.wait(10), "the broker kept the banned client connected"

        # The banned page asks for a fresh session, as the app does: refused, with when it ends.
        status, body = edge.new_session("Bob2")
        assert status == 403
        assert (body["code"], body["retryable"], body["untilTs"]) == ("banned", False, banned["untilTs"])
    finally:
        unban = json.loads(edge.cli("mod", "unban", bob.client_id).stdout)
        mod.close()
        bob.client.loop_stop()
    assert (unban["type"], unban["action"]) == ("moderated", "unban")
    status, again = edge.new_session("Bob")
    assert status == 201 and again["clientId"] != creds["clientId"]
    audit = json.loads(edge.cli("mod", "audit", "--limit", "5").stdout)["entries"]
    assert [e["action"] for e in audit[:2]] == ["unban", "ban"]
    revoke_all(edge, [again])


def test_one_address_holds_at_most_max_live_sessions(edge):
    # Twice the limit at once: the endpoint counts sessions still being issued.
    with ThreadPoolExecutor(2 * MAX) as pool:
        answers = list(pool.map(lambda i: edge.new_session(f"P{i}"), range(2 * MAX)))
    issued = [body for status, body in answers if status == 201]
    refused = [body for status, body in answers if status != 201]
    try:
        assert len(issued) == MAX, answers
        assert {(b["code"], b["retryable"]) for b in refused} == {("too_many_sessions", True)}, refused
        assert all(b["retryAfterMs"] > 0 for b in refused)
        # A revoked credential stops counting (an expired one too: tests/broker).
        edge.cli("credentials", "revoke", issued[0]["clientId"])
        status, body = edge.new_session("Late")
        assert status == 201, body
        issued[0] = body
    finally:
        revoke_all(edge, issued)
