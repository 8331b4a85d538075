"""Settings for every edge component, with embedded defaults.

One frozen ``Settings`` per process, built once in ``main`` from defaults, an
optional JSON file and command-line flags (under Greengrass, from the
component's configuration), then passed down.  Nothing reads the environment or
a file at import time.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from edgechat.core import names
from edgechat.core.protocol import Limits
from edgechat.core.ratelimit import RateLimit
from edgechat.core.router import RouterConfig
from edgechat.core.stream import StreamLimits

DEFAULT_DATA_DIR = Path("var/edgechat")


@dataclass(frozen=True, slots=True)
class Paths:
    """Where each component keeps its files, under one data directory."""

    root: Path

    @property
    def broker(self) -> Path:
        return self.root / "broker"

    @property
    def secrets(self) -> Path:
        return self.root / "secrets"

    @property
    def store(self) -> Path:
        return self.root / "store" / "messages.db"

    @property
    def runtime(self) -> Path:
        return self.root / "run" / "runtime.json"

    @property
    def stream(self) -> Path:
        """The Stream component's reaction counts and export spool."""
        return self.root / "stream" / "stream.db"


STREAM_EXPORTS = ("none", "kinesis", "streammanager")


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """The Stream component (docs/stream.md): micro-batch window, limits, export."""

    window_ms: int = 200
    rate_per_second: float = 50.0
    rate_burst: int = 200
    typing_ttl_ms: int = 6000
    # Raw events kept for export; when full the oldest are dropped and counted.
    spool_max_events: int = 200_000
    export: str = "none"  # none | kinesis (boto3) | streammanager (Greengrass)
    kinesis_stream: str = ""
    aws_region: str = ""
    endpoint_url: str = ""  # a Kinesis endpoint other than AWS's (tests, VPC endpoints)

    def __post_init__(self) -> None:
        if self.export not in STREAM_EXPORTS:
            raise ValueError(f"stream.export: one of {', '.join(STREAM_EXPORTS)}")
        if self.export != "none" and not self.kinesis_stream:
            raise ValueError("stream.kinesis_stream: required to export")
        if not 10 <= self.window_ms <= 10_000:
            raise ValueError("stream.window_ms: 10 to 10000")
        if self.spool_max_events < 1:
            raise ValueError("stream.spool_max_events: at least 1")

    @property
    def limits(self) -> StreamLimits:
        rate = RateLimit(per_second=self.rate_per_second, burst=self.rate_burst)
        return StreamLimits(typing_ttl_ms=self.typing_ttl_ms, rate=rate)


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    site_id: str = "edge"
    # Where LAN clients reach the core; the services use the loopback listener.
    host: str = "0.0.0.0"
    public_host: str | None = None  # the host name put in URLs; guessed when None
    mqtt_port: int = 1883
    ws_port: int = 9001
    http_port: int = 8080
    internal_port: int = 18830
    retention_days: float = 30.0
    # How long after sending a person may edit or delete their own message.
    edit_window_minutes: float = 15.0
    limits: Limits = field(default_factory=Limits)
    rate: RateLimit = field(default_factory=RateLimit)
    # Per client, over what is in flight.  Mosquitto's default (1000) silently
    # drops a QoS 1 burst to a slow reader; this holds about 10 s of a busy core.
    max_queued_messages: int = 10_000
    max_packet_bytes: int = 64 * 1024
    max_connections: int = 2_000
    store_synchronous: str = "FULL"
    # A browser session asks for a new credential when its own is refused.
    credential_ttl_hours: float = 7 * 24
    # How long a ban keeps the banned session's address from new sessions
    # unless the ban says (docs/operations.md, Moderation).
    ban_hours: float = 24.0
    # Live sessions (credentials) one address may hold: sized for a site's
    # phones behind one NAT; each is one broker connection (docs/security.md).
    max_sessions_per_address: int = 50
    # TLS on the LAN listeners (wss://, mqtts://, https://); without files, a
    # self-signed certificate is made at first start (docs/security.md).
    tls: bool = False
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    # Sync with the cloud (docs/sync.md): off unless sync_url is set, e.g.
    # mqtts://<account>-ats.iot.<region>.amazonaws.com:8883 or the local cloud's
    # mqtts URL.  The thing name is the client id and the certificate's identity
    # (default: the site id).  Under Greengrass the nucleus's connection is used.
    sync_url: str | None = None
    sync_thing: str | None = None
    sync_cert_file: str | None = None
    sync_key_file: str | None = None
    sync_ca_file: str | None = None
    # Pictures to S3 with their messages (docs/sync.md, "Pictures"): off without
    # a bucket.  Credentials: boto3's usual chain (under Greengrass, the Token
    # Exchange Service); the endpoint only for a stand-in (moto in the local cloud).
    sync_pictures_bucket: str | None = None
    sync_s3_endpoint_url: str | None = None
    sync_s3_region: str | None = None
    # Label shared pictures on this core (docs/labeler.md) when the `labeler`
    # extra is installed; false keeps a small core from trying.
    labeler: bool = True
    stream: StreamSettings = field(default_factory=StreamSettings)

    def __post_init__(self) -> None:
        names.site_id(self.site_id, "siteId")
        if self.max_sessions_per_address < 1:
            raise ValueError("max_sessions_per_address: at least 1")
        if not self.ban_hours > 0:
            raise ValueError("ban_hours: more than 0")
        if self.limits.max_event_bytes + 1024 > self.max_packet_bytes:
            raise ValueError("limits.max_event_bytes must be at least 1 KiB under max_packet_bytes")
        if self.limits.max_payload_bytes + 1024 > self.max_packet_bytes:
            raise ValueError("limits.max_payload_bytes must be at least 1 KiB under max_packet_bytes")
        for name in ("mqtt_port", "ws_port", "http_port", "internal_port"):
            port = getattr(self, name)
            if not 0 <= port <= 65535:
                raise ValueError(f"{name}: {port} is not a port")
        if self.store_synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError("store_synchronous: FULL, NORMAL or EXTRA")
        if self.sync_url:
            self.sync_endpoint  # noqa: B018 - validates
        if self.sync_thing and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", self.sync_thing):
            raise ValueError("sync_thing: 1-64 characters from A-Z a-z 0-9 _ -")
        bucket = self.sync_pictures_bucket
        if bucket and not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):  # S3's naming rules
            raise ValueError("sync_pictures_bucket: 3-63 characters from a-z 0-9 . - (an S3 bucket name)")
        if self.sync_s3_endpoint_url and not re.fullmatch(r"https?://[^\s/?#]+/?", self.sync_s3_endpoint_url):
            raise ValueError("sync_s3_endpoint_url: http(s)://host[:port]")

    @property
    def sync_endpoint(self) -> tuple[str, int] | None:
        """(host, port) of ``sync_url``; None when sync is off."""
        if not self.sync_url:
            return None
        match = re.fullmatch(r"mqtts://([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?/?", self.sync_url)
        if match is None:
            raise ValueError(f"sync_url: {self.sync_url!r} is not mqtts://host[:port]")
        return match[1].strip("[]"), int(match[2] or 8883)

    @property
    def thing(self) -> str:
        """This core's thing name (the client id towards the cloud)."""
        return self.sync_thing or self.site_id

    @property
    def paths(self) -> Paths:
        return Paths(self.data_dir)

    @property
    def router(self) -> RouterConfig:
        return RouterConfig(
            site=self.site_id, limits=self.limits, rate=self.rate,
            edit_window_ms=int(self.edit_window_minutes * 60_000),
            ban_ms=int(self.ban_hours * 3_600_000),
        )  # fmt: skip

    @property
    def retention_ms(self) -> int:
        return int(self.retention_days * 86_400_000)

    def with_overrides(self, **overrides: Any) -> Settings:
        """Apply overrides, ignoring the ones that are None (flags not given)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if "data_dir" in given:
            given["data_dir"] = Path(given["data_dir"])
        return replace(self, **given)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["data_dir"] = str(self.data_dir)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Settings:
        """Settings from a JSON object using the field names above; unknown keys
        are an error so that a typo in a deployment does not pass silently."""
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        values = dict(raw)
        if "limits" in values:
            values["limits"] = Limits(**values["limits"])
        if "rate" in values:
            values["rate"] = RateLimit(**values["rate"])
        if "stream" in values:
            values["stream"] = StreamSettings(**values["stream"])
        if "data_dir" in values:
            values["data_dir"] = Path(values["data_dir"])
        return cls(**values)

    @classmethod
    def load(cls, path: Path | None) -> Settings:
        if path is None:
            return cls()
        return cls.from_json(json.loads(path.read_text()))
