"""The IPC adapter against the fake nucleus client (awsiotsdk's model classes)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from edgechat.greengrass.catalogue import Permission
from edgechat.greengrass.fake import FakeIpcClient, topic_matches
from edgechat.greengrass.ipc import GreengrassIpc, IpcError, IpcMessage


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    """An async test run in its own event loop (no asyncio plugin here)."""

    @functools.wraps(test)
    def sync() -> None:
        asyncio.run(asyncio.wait_for(test(), 10))

    return sync


def ipc(**kwargs) -> tuple[GreengrassIpc, FakeIpcClient]:
    client = FakeIpcClient(**kwargs)
    return GreengrassIpc(client), client


@run
async def test_configuration_and_updates() -> None:
    adapter, client = ipc(configuration={"mqttPort": 1883, "limits": {"maxTextChars": 10}})
    assert await adapter.get_configuration() == {"mqttPort": 1883, "limits": {"maxTextChars": 10}}
    assert await adapter.get_configuration(["limits"]) == {"maxTextChars": 10}
    async with adapter.configuration_updates() as updates:
        client.deploy_configuration({"mqttPort": 1884.0})
        assert await asyncio.wait_for(anext(updates), 2) == ("mqttPort",)
    assert (await adapter.get_configuration())["mqttPort"] == 1884.0
    with pytest.raises(IpcError, match="no configuration"):
        await adapter.get_configuration(["nope"])


@run
async def test_state_is_reported() -> None:
    adapter, client = ipc()
    await adapter.update_state("RUNNING")
    assert client.states == ["RUNNING"]
    with pytest.raises(IpcError):
        await adapter.update_state("HAPPY")


@run
async def test_local_publish_subscribe_keeps_order() -> None:
    adapter, _ = ipc()
    async with adapter.subscribe("edgechat/+/status") as messages:
        for i in range(500):
            await adapter.publish(f"edgechat/{i % 3}/status", str(i).encode())
        await adapter.publish("other/topic", b"not for us")
        got = [await asyncio.wait_for(anext(messages), 2) for _ in range(500)]
    assert [int(m.payload) for m in got] == list(range(500))
    assert got[1] == IpcMessage("edgechat/1/status", b"1")


@run
async def test_iot_core_both_ways_and_authorization() -> None:
    proxy = "aws.greengrass.ipc.mqttproxy"
    allowed = (
        Permission(proxy, ("aws.greengrass#PublishToIoTCore",), ("edgechat/up",)),
        Permission(proxy, ("aws.greengrass#SubscribeToIoTCore",), ("edgechat/down/#",)),
    )
    adapter, client = ipc(permissions=allowed)
    await adapter.publish_to_iot_core("edgechat/up", b"batch")
    assert [(m.topic_name, m.payload) for m in client.iot_published] == [("edgechat/up", b"batch")]
    with pytest.raises(IpcError, match="not authorized"):
        await adapter.publish_to_iot_core("edgechat/elsewhere", b"x")
    with pytest.raises(IpcError, match="not authorized"):
        await adapter.publish("edgechat/local", b"x")  # no pubsub permission at all
    async with adapter.subscribe_to_iot_core("edgechat/down/#") as messages:
        for i in range(100):
            client.deliver_from_iot_core(f"edgechat/down/{i}", b"%d" % i)
        got = [await asyncio.wait_for(anext(messages), 2) for _ in range(100)]
    assert [m.topic for m in got] == [f"edgechat/down/{i}" for i in range(100)]


@run
async def test_closed_subscription_gets_nothing_and_a_slow_reader_drops_counted() -> None:
    client = FakeIpcClient()
    adapter = GreengrassIpc(client, max_queued=5)
    async with adapter.subscribe("t") as messages:
        for i in range(8):
            await adapter.publish("t", b"%d" % i)
        client.drain()
        await asyncio.sleep(0.05)
        assert messages.dropped == 3
        assert [(await anext(messages)).payload for _ in range(5)] == [b"0", b"1", b"2", b"3", b"4"]
    await adapter.publish("t", b"late")
    client.drain()
    assert messages._queue.empty()


@pytest.mark.parametrize(
    ("pattern", "topic", "match"),
    [("a/+/c", "a/b/c", True), ("a/#", "a/b/c", True), ("a/+", "a/b/c", False), ("a/b", "a/b", True),
     ("a/b", "a/b/c", False)],
)  # fmt: skip
def test_topic_matching(pattern: str, topic: str, match: bool) -> None:
    assert topic_matches(pattern, topic) is match
