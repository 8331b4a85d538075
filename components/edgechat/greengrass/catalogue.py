"""Every edge component edgechat ships to Greengrass, as data.

A component is one small declarative entry: what it runs, which settings its
deployment may set, what it needs from other components and from AWS, and the
IPC operations it may call.  The recipe builder turns an entry and its template
(``recipes/<name>.yaml``) into a recipe; later components (Sync, Stream,
Labeler) join by adding an entry and a template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Components of one major version work together (shared data directory layout,
# broker accounts, topics).  Bump with a breaking change between components.
MAJOR = 1
COMPATIBLE = f">={MAJOR}.0.0 <{MAJOR + 1}.0.0"
DEFAULT_VERSION = f"{MAJOR}.0.0"
NAMESPACE = "edgechat"
# Greengrass artifact platforms (recipe `Platform.architecture`) and the wheel
# platform tags that run on them.
ARCHITECTURES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "amd64": ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"),
    "aarch64": ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"),
})  # fmt: skip
# The oldest Python on a supported core: Raspberry Pi OS / Debian 12 (bookworm).
TARGET_PYTHON = "3.11"


@dataclass(frozen=True, slots=True)
class Permission:
    """One IPC authorization policy: ``accessControl.<service>.<policy id>``."""

    service: str  # e.g. aws.greengrass.ipc.pubsub
    operations: tuple[str, ...]  # e.g. aws.greengrass#PublishToTopic
    resources: tuple[str, ...]  # exact topics where possible
    description: str = ""


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    module: str  # run as `python3 -u -m <module>`
    description: str
    # Settings fields (snake_case) a deployment may set through this component's
    # configuration; their defaults become the recipe's DefaultConfiguration.
    settings: tuple[str, ...] = ()
    # Defaults that differ on a core from edgechat's standalone ones.
    core_defaults: Mapping[str, object] = field(default_factory=dict)
    # Settings this component takes from the Broker's configuration (run flags),
    # so that every component agrees on the data directory and ports.
    from_broker: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # other edgechat components (HARD dependencies)
    aws_requires: Mapping[str, str] = field(default_factory=dict)  # AWS components: version range
    permissions: tuple[Permission, ...] = ()
    # Extra artifact folders: zip name -> folder in the project, unpacked next to the wheels.
    extra_artifacts: Mapping[str, str] = field(default_factory=dict)
    # Heavy components (the picture labeller) are deployed separately so a small
    # Pi runs without them; the docs list which runs where.
    heavy: bool = False
    # pip extras its environment installs (`edgechat[labeler]`), and the
    # architectures whose wheels exist for all of them (docs/deploy.md).
    extras: tuple[str, ...] = ()
    architectures: tuple[str, ...] = tuple(ARCHITECTURES)

    @property
    def short(self) -> str:
        return self.name.removeprefix(f"{NAMESPACE}.")


BROKER = Component(
    name=f"{NAMESPACE}.Broker",
    module="edgechat.broker",
    description="Mosquitto (Debian package) with edgechat's listeners, accounts and ACLs.",
    settings=(
        "data_dir", "host", "mqtt_port", "ws_port", "internal_port",
        "max_queued_messages", "max_packet_bytes", "max_connections",
        "tls", "tls_cert_file", "tls_key_file",
    ),
    # Outside every component's work folder: the Router's messages and the
    # broker's accounts live on when a component is removed or replaced.
    # "" (not null) for no certificate files: with tls on, a self-signed pair is made.
    core_defaults=MappingProxyType(
        {"data_dir": "/var/lib/edgechat", "tls_cert_file": "", "tls_key_file": ""}
    ),
)  # fmt: skip

ROUTER = Component(
    name=f"{NAMESPACE}.Router",
    module="edgechat.router",
    description="edgechat's chat rules and message store, over the edge broker.",
    settings=(
        "site_id",
        "retention_days",
        "limits",
        "rate",
        "store_synchronous",
        "edit_window_minutes",
        "ban_hours",
    ),
    from_broker=("data_dir", "internal_port"),
    requires=(BROKER.name,),
)

WEB = Component(
    name=f"{NAMESPACE}.Web",
    module="edgechat.web",
    description="edgechat's web app and per-session broker credentials, over HTTP.",
    settings=("http_port", "max_sessions_per_address"),
    # Where the Broker is (its URLs go into credentials and config.json), and
    # whether it speaks TLS (then so does the page: https:// and wss://).
    from_broker=("data_dir", "host", "mqtt_port", "ws_port", "tls", "tls_cert_file", "tls_key_file"),
    requires=(BROKER.name,),
    extra_artifacts=MappingProxyType({"web-dist": "web/dist"}),
)

STREAM = Component(
    name=f"{NAMESPACE}.Stream",
    module="edgechat.stream",
    description="edgechat's high-volume events (typing, reactions, readings) in micro-batches, to Kinesis.",
    settings=("site_id", "retention_days", "stream"),
    from_broker=("data_dir", "internal_port"),
    requires=(BROKER.name,),
    # Stream Manager needs no IPC authorization; its Kinesis export uses the
    # core's token exchange role (kinesis:PutRecords on the stream; docs/deploy.md).
    aws_requires=MappingProxyType({"aws.greengrass.StreamManager": ">=2.0.0 <3.0.0"}),
)

# IoT Core topics of this core's thing ({iot:thingName}: nucleus 2.6.0 or later).
_SYNC_UP = "sync/{iot:thingName}/up"
_SYNC_DOWN = "sync/{iot:thingName}/down"

SYNC = Component(
    name=f"{NAMESPACE}.Sync",
    module="edgechat.sync",
    description="edgechat's store-and-forward link to the cloud: nothing lost, nothing doubled.",
    settings=("site_id", "sync_thing", "sync_pictures_bucket", "sync_s3_region"),
    # "": the core's own thing name (AWS_IOT_THING_NAME), as IoT Core knows it;
    # no pictures bucket: pictures stay on the core (the stack's PicturesBucketName).
    core_defaults=MappingProxyType({"sync_thing": "", "sync_pictures_bucket": "", "sync_s3_region": ""}),
    from_broker=("data_dir", "internal_port"),
    requires=(BROKER.name, ROUTER.name),
    # boto3's S3 credentials for pictures: the core's token exchange role, which
    # needs s3:PutObject on <PicturesBucket>/pictures/* (CorePicturesPolicyArn; docs/deploy.md).
    aws_requires=MappingProxyType({"aws.greengrass.TokenExchangeService": ">=2.0.0 <3.0.0"}),
    permissions=(
        Permission(
            "aws.greengrass.ipc.mqttproxy", ("aws.greengrass#PublishToIoTCore",), (_SYNC_UP,),
            "Sync: send this core's batches and requests",
        ),
        Permission(
            "aws.greengrass.ipc.mqttproxy", ("aws.greengrass#SubscribeToIoTCore",),
            (_SYNC_DOWN, "chat/pub/+"),
            "Sync: the cloud's answers and its live fan-out",
        ),
    ),
)  # fmt: skip

LABELER = Component(
    name=f"{NAMESPACE}.Labeler",
    module="edgechat.labeler",
    description="edgechat's picture labels and tag clouds, from models that run on the core (no network).",
    # The picture store and the label cache are in the Broker's data dir.
    from_broker=("data_dir", "internal_port"),
    requires=(BROKER.name,),
    heavy=True,
    extras=("labeler",),
)  # both architectures: ai-edge-litert is pinned to 1.4, whose aarch64 wheel a Pi runs

CATALOGUE: tuple[Component, ...] = (BROKER, ROUTER, WEB, STREAM, SYNC, LABELER)


def by_name(name: str) -> Component:
    for component in CATALOGUE:
        if name in (component.name, component.short):
            return component
    known = ", ".join(c.name for c in CATALOGUE)
    raise KeyError(f"no component {name!r} (known: {known})")


def select(names: list[str] | None) -> tuple[Component, ...]:
    return CATALOGUE if not names else tuple(by_name(n) for n in names)
