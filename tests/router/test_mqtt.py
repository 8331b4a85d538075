"""router.mqtt.LeanClient against the real broker: the session survives a
reconnect, properties from other clients are skipped, publishes beyond the
broker's in-flight window all arrive in order, and refusals are errors."""

import asyncio
import json

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edgechat.router.mqtt import LeanClient, MqttError
from tests.support.edge import Edge, running_edge, system_client

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    with running_edge(tmp_path_factory.mktemp("edge") / "data") as e:
        yield e


def _client(edge: Edge, password: str | None = None, client_id: str = "test-lean") -> LeanClient:
    return LeanClient(
        "127.0.0.1", edge.internal_port, client_id=client_id, username="edgechat-system",
        password=password or edge.system_password(), session_expiry_s=60,
    )  # fmt: skip


async def _take(client: LeanClient, n: int, timeout_s: float = 10.0) -> list:
    got = []

    async def read() -> None:
        async for msg in client.messages():
            got.append(msg)
            client.ack(msg.mid, msg.qos)
            if len(got) == n:
                return

    await asyncio.wait_for(read(), timeout_s)
    return got


def test_session_kept_across_reconnect_and_properties_skipped(edge):
    other = system_client(edge, "test-props")
    try:

        async def first() -> None:
            async with _client(edge) as c:
                await c.subscribe("chat/pub/lean-room", 1)

        asyncio.run(first())
        # Sent while the lean client is away, with v5 properties: the broker keeps them.
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("k", "v" * 300)]
        props.MessageExpiryInterval = 60
        for i in range(3):
            info = other.client.publish("chat/pub/lean-room", json.dumps({"n": i}), qos=1, properties=props)
            info.wait_for_publish(5)

        async def second() -> list:
            async with _client(edge) as c:
                return await _take(c, 3)

        got = asyncio.run(second())
        assert [json.loads(m.payload) for m in got] == [{"n": 0}, {"n": 1}, {"n": 2}]
        assert all(m.topic == "chat/pub/lean-room" and m.qos == 1 and not m.retain for m in got)
    finally:
        other.close()


def test_publishes_beyond_the_window_all_arrive_in_order(edge):
    watcher = system_client(edge, "test-watcher")
    try:
        watcher.subscribe("chat/pub/lean-burst")

        async def burst() -> int:
            async with _client(edge, client_id="test-burst") as c:
                for i in range(1000):  # the broker allows 100 in flight
                    assert c.publish("chat/pub/lean-burst", json.dumps({"n": i}).encode())
                assert c.backlog > 0
                await asyncio.wait_for(c.drained(), 10)
                return c.refused

        assert asyncio.run(burst()) == 0
        got = watcher.wait_for(lambda t, _b: t == "chat/pub/lean-burst", count=1000)
        assert [b["n"] for _t, b in got] == list(range(1000))
    finally:
        watcher.close()


def test_wrong_password_is_a_clear_error(edge):
    async def bad() -> None:
        async with _client(edge, password="wrong"):
            pass

    with pytest.raises(MqttError, match="refused the connection"):
        asyncio.run(bad())
