"""The operator's way in: a short-lived moderator credential on the core's own
broker, so a script's request takes exactly the path a moderator's browser
takes (its own ``chat/out/{clientId}``, the Router checking the role).

Each use makes a credential, marks it a moderator, asks, and removes both
again: nothing long-lived to leak.  Needs the data directory (run it on the
core, as the user that runs ``edgechat up``).
"""

from __future__ import annotations

import json
import queue
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import paho.mqtt.client as mqtt

from edgechat import tls
from edgechat.broker.credentials import issue, revoke
from edgechat.broker.roles import set_moderator
from edgechat.core import topics
from edgechat.runtime import read_runtime
from edgechat.settings import Settings


class NotRunning(Exception):
    """No ``edgechat up`` runs on this data directory."""


class OperatorSession:
    def __init__(self, client: mqtt.Client, client_id: str) -> None:
        self.client = client
        self.client_id = client_id
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()

    def ask(self, request: dict[str, Any], timeout_s: float = 10.0) -> dict[str, Any]:
        """Send ``request``; the reply with its requestId (an error, or its answer)."""
        rid = f"op{secrets.token_hex(4)}"
        self.client.publish(
            topics.client_out(self.client_id), json.dumps({**request, "requestId": rid}), qos=1
        )
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                event = self.inbox.get(timeout=left)
            except queue.Empty:
                break
            if (
                event.get("requestId") == rid
                or event.get("ref") in (rid, request.get("id"))
                or (event.get("type") == "ack" and event.get("id") == request.get("id"))
            ):
                return event
        raise TimeoutError(f"no answer to {request.get('type')} from the Router in {timeout_s:.0f} s")


@contextmanager
def operator(settings: Settings, timeout_s: float = 10.0) -> Iterator[OperatorSession]:
    runtime = read_runtime(settings.paths)
    if runtime is None:
        raise NotRunning(f"edgechat is not running on {settings.paths.root}")
    settings = runtime.settings
    creds = issue(settings, "operator")
    set_moderator(settings, creds.client_id, True)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=creds.client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(creds.username, creds.password)
    if settings.tls:
        client.tls_set_context(tls.client_context(tls.certificate(settings)))
    session = OperatorSession(client, creds.client_id)
    subscribed = queue.Queue[int]()
    client.on_message = lambda c, u, msg: session.inbox.put(json.loads(msg.payload))
    client.on_subscribe = lambda c, u, mid, rcs, props: subscribed.put(mid)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "", "::") else settings.host
    try:
        client.connect(host, settings.mqtt_port, keepalive=30)
        client.loop_start()
        client.subscribe(topics.client_in(creds.client_id), qos=1)
        subscribed.get(timeout=timeout_s)
        hello = session.ask({"type": "hello", "nick": "operator"}, timeout_s)
        if hello.get("type") != "welcome":
            raise RuntimeError(f"the Router refused the operator: {hello}")
        yield session
    finally:
        client.loop_stop()
        client.disconnect()
        set_moderator(settings, creds.client_id, False)
        revoke(settings, creds.client_id)
