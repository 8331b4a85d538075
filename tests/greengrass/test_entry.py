"""A component's main under the nucleus: configuration from IPC, live updates
applied in place, others restart the service, state reported."""

from __future__ import annotations

import asyncio
import os
import signal

from edgechat.entry import Overrides, host
from edgechat.greengrass import configuration
from edgechat.greengrass.fake import FakeIpcClient
from edgechat.greengrass.ipc import GreengrassIpc
from edgechat.settings import Settings

from .test_ipc import run


class Recorder:
    name = "recorder"
    live = frozenset({"retention_days"})

    def __init__(self) -> None:
        self.runs: list[Settings] = []
        self.applied: list[Settings] = []
        self.changed = asyncio.Event()

    async def run(self, settings: Settings, ready: asyncio.Event) -> None:
        self.runs.append(settings)
        self.changed.set()
        ready.set()
        await asyncio.Event().wait()

    def apply(self, settings: Settings) -> None:
        self.applied.append(settings)
        self.changed.set()

    async def wait(self) -> None:
        await asyncio.wait_for(self.changed.wait(), 5)
        self.changed.clear()


@run
async def test_updates_apply_live_or_restart_and_state_is_reported() -> None:
    allowed = ("site_id", "retention_days")
    client = FakeIpcClient(configuration={"siteId": "a", "retentionDays": 30})
    ipc = GreengrassIpc(client)
    overrides = Overrides({"dataDir": "/tmp/edgechat-x"})
    settings = overrides.apply(configuration.apply(Settings(), await ipc.get_configuration(), allowed))
    service = Recorder()
    hosting = asyncio.create_task(host(service, settings, ipc=ipc, allowed=allowed, overrides=overrides))
    await service.wait()
    assert service.runs[0].site_id == "a" and str(service.runs[0].data_dir) == "/tmp/edgechat-x"

    client.deploy_configuration({"retentionDays": 7})
    await service.wait()
    assert len(service.runs) == 1 and service.applied[-1].retention_days == 7

    client.deploy_configuration({"siteId": "b"})
    await service.wait()
    assert len(service.runs) == 2 and service.runs[1].site_id == "b"
    assert str(service.runs[1].data_dir) == "/tmp/edgechat-x"  # flags still win over the nucleus

    client.deploy_configuration({"siteId": "bad site!"})  # refused: the service keeps running
    client.deploy_configuration({"siteId": "b", "retentionDays": 1})  # fixed: only retention differs
    await service.wait()
    assert len(service.runs) == 2 and service.applied[-1].site_id == "b"

    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(hosting, 5) == 0
    assert client.states == ["RUNNING", "RUNNING"]


def test_configuration_keys_map_onto_settings() -> None:
    deployed = {"mqttPort": 1884.0, "limits": {"maxTextChars": 10}, "accessControl": {}}
    s = configuration.apply(Settings(), deployed)
    assert s.mqtt_port == 1884 and s.limits.max_text_chars == 10 and s.limits.history_max == 200
    assert configuration.changed(Settings(), s) == {"mqtt_port", "limits"}
    try:
        configuration.apply(Settings(), {"mqttPrt": 1}, allowed=("mqtt_port",))
    except ValueError as exc:
        assert "mqttPrt" in str(exc)
    else:
        raise AssertionError("a typo must not pass")
    assert configuration.parse_assignment("dataDir=/var/lib/x") == ("dataDir", "/var/lib/x")
    assert configuration.parse_assignment("internalPort=18830") == ("internalPort", 18830)


def test_router_applies_limits_rate_and_retention_live() -> None:
    from types import SimpleNamespace

    from edgechat.router.__main__ import RouterComponent

    component = RouterComponent()
    component.service = SimpleNamespace(router=SimpleNamespace(config=None), retention_ms=0)  # type: ignore[assignment]
    new = configuration.apply(Settings(), {"retentionDays": 1, "rate": {"perSecond": 0}})
    assert configuration.changed(Settings(), new) <= component.live
    component.apply(new)
    assert component.service.retention_ms == 86_400_000
    assert component.service.router.config.rate.unlimited


def test_standalone_edgechat_imports_no_aws_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, edgechat.cli, edgechat.entry, edgechat.up;"
        "edgechat.cli.build_parser();"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'awsiot', 'awscrt', 'boto3', 'botocore'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
