"""A Router rebuilt from saved state behaves as if it had never stopped (the
cloud builds one per request from DynamoDB)."""

import json

from edgechat.core.presence import Presence
from edgechat.core.protocol import Member
from edgechat.core.ratelimit import Bucket, RateLimit
from edgechat.core.router import Broadcast, Reply, Router, RouterConfig, Session


def test_restored_session_and_presence_carry_nick_rate_and_rooms():
    config = RouterConfig(rate=RateLimit(per_second=1, burst=1))
    presence = Presence()
    presence.join("lobby", Member("a", "Ann"))
    sessions = {"a": Session("Ann", Bucket(0.0, 1000), 1000)}
    router = Router(config, presence=presence, sessions=sessions)
    (limited,) = router.receive("a", b'{"type":"join","room":"lobby"}', 1000)
    assert isinstance(limited, Reply) and limited.event["code"] == "rate_limited"
    effects = router.receive("b", b'{"type":"join","room":"lobby"}', 2000)
    joined = next(e for e in effects if isinstance(e, Reply))
    assert joined.event["members"] == [{"clientId": "a", "nick": "Ann"}, {"clientId": "b", "nick": "b"}]
    assert router.session("a").nick == "Ann" and router.session("b").seen_ms == 2000
    effects = router.receive("a", json.dumps({"type": "bye"}).encode(), 3000)
    assert [e.event["change"] for e in effects if isinstance(e, Broadcast)] == ["leave"]
    assert router.session("a") is None
