import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from edgechat.cloud.handlers.deps import Deps, build
from tests.support.moto import new_chat_table


@dataclass
class Cloud:
    """The handlers' world on moto: a fresh table, a recording 'IoT Core', a clock."""

    deps: Deps
    db: Any
    table: str
    published: list[tuple[str, dict]] = field(default_factory=list)
    now: int = 1_800_000_000_000

    def publish(self, topic: str, payload: bytes) -> None:
        self.published.append((topic, json.loads(payload)))

    def on(self, topic: str) -> list[dict]:
        return [e for t, e in self.published if t == topic]

    def request(self, client_id: str, body: dict | bytes, advance_ms: int = 1) -> list[tuple[str, dict]]:
        from edgechat.cloud.handlers import router

        self.now += advance_ms
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        before = len(self.published)
        router.handle(rule_event(client_id, payload, self.now), self.deps)
        return self.published[before:]


def rule_event(client_id: str, payload: bytes, now: int) -> dict:
    """What RouterFunction's rule hands the Lambda (see template.yaml)."""
    return {"payload": base64.b64encode(payload).decode(), "clientId": client_id, "receivedMs": now}


@pytest.fixture
def cloud(moto_url) -> Cloud:
    table = f"t{uuid.uuid4().hex[:12]}"
    db = new_chat_table(moto_url, table)
    c = Cloud(deps=None, db=db, table=table)  # type: ignore[arg-type]
    c.deps = build(db, table, "cloud", c.publish, retention_days=30)
    c.deps.now_ms = lambda: c.now
    return c
