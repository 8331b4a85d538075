"""The Sync service from Settings: shared by ``edgechat up`` (through the
component's main, as a child process) and the Sync component under Greengrass."""

from __future__ import annotations

import os
import threading
from typing import Any

from edgechat.broker import system_password
from edgechat.broker.config import SYSTEM_USER
from edgechat.settings import Settings
from edgechat.store import SqliteStore
from edgechat.sync.pictures import PictureSync
from edgechat.sync.service import SyncService
from edgechat.sync.uplink import IpcUplink, Mqtt5Uplink, Uplink

# Set by the nucleus for every component: the core's thing name.
THING_ENV = "AWS_IOT_THING_NAME"


def status_path(settings: Settings) -> Any:
    return settings.paths.root / "run" / "sync.json"


def uplink_for(settings: Settings, ipc: Any = None) -> tuple[Uplink, str]:
    """The link to the cloud and the thing name it speaks as."""
    if ipc is not None:
        thing = settings.sync_thing or os.environ.get(THING_ENV) or settings.thing
        return IpcUplink(ipc, thing), thing
    endpoint = settings.sync_endpoint
    if endpoint is None:
        raise ValueError("sync is off: set sync_url (mqtts://host:port), or run under Greengrass")
    missing = [n for n in ("sync_cert_file", "sync_key_file") if not getattr(settings, n)]
    if missing:
        raise ValueError(f"sync_url needs {' and '.join(missing)} (the thing's certificate and key)")
    host, port = endpoint
    uplink = Mqtt5Uplink(
        host, port, settings.thing, cert=str(settings.sync_cert_file), key=str(settings.sync_key_file),
        ca=settings.sync_ca_file or None,
    )  # fmt: skip
    return uplink, settings.thing


class _S3Client:
    """boto3's S3 client, made at the first upload on the uploader's thread:
    importing boto3 and making a client costs about a second of CPU here, which
    a Sync (re)start should not wait for, and most cores share few pictures."""

    def __init__(self, settings: Settings) -> None:
        self.endpoint, self.region = settings.sync_s3_endpoint_url or None, settings.sync_s3_region or None
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                # Fail fast and let PictureGate's backoff retry: no upload waits minutes in botocore.
                retries: Any = {"max_attempts": 2, "mode": "standard"}
                config = Config(connect_timeout=5, read_timeout=60, retries=retries)
                self._client = boto3.client(
                    "s3", endpoint_url=self.endpoint, region_name=self.region, config=config
                )
        return getattr(self._client, name)


def picture_sync(settings: Settings) -> PictureSync | None:
    """Pictures to S3 when ``sync_pictures_bucket`` is set.  boto3's own chain
    finds the credentials: under Greengrass the Token Exchange Service (the
    component depends on it; the nucleus sets AWS_CONTAINER_CREDENTIALS_FULL_URI),
    standalone the environment, ~/.aws or an instance role."""
    if not settings.sync_pictures_bucket:
        return None
    from edgechat.labeler.intake import PictureStore
    from edgechat.labeler.s3 import Ledger, S3Pictures

    root = settings.paths.root  # the Web service's picture store is here
    pictures = S3Pictures(_S3Client(settings), settings.sync_pictures_bucket, PictureStore.in_data_dir(root))
    return PictureSync(pictures, Ledger.in_data_dir(root))


def sync_service(settings: Settings, store: SqliteStore, ipc: Any = None) -> SyncService:
    uplink, thing = uplink_for(settings, ipc)
    return SyncService(
        store, uplink, thing=thing, site=settings.site_id, host="127.0.0.1", port=settings.internal_port,
        username=SYSTEM_USER, password=system_password(settings), status_path=status_path(settings),
        pictures=picture_sync(settings),
    )  # fmt: skip
