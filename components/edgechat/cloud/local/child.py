"""``edgechat cloud up`` as a child process, for tests and benchmarks: started,
its ready line read, stopped; and paho clients that connect as an edge core."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from edgechat.cloud.local.up import issue_core_certificate


class LocalCloud:
    """``with LocalCloud(dir) as cloud:``; ``cloud.info`` holds the ready line's
    fields (web, ws, mqtts, moto, ca, certs, table, stream, pictures)."""

    def __init__(self, data_dir: Path, *, store: str = "dynamodb", moto_url: str | None = None) -> None:
        self.data_dir, self.store, self.moto_url = data_dir, store, moto_url
        self.proc: subprocess.Popen[str] | None = None
        self.info: dict[str, str] = {}

    def __enter__(self) -> LocalCloud:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "edgechat", "cloud", "up", "--data-dir", str(self.data_dir),
                "--store", self.store]  # fmt: skip
        if self.moto_url:
            argv += ["--moto-url", self.moto_url]
        with (self.data_dir / "cloud.log").open("ab") as log:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("edgechat cloud ready "):
            self.__exit__()
            raise RuntimeError(f"cloud up did not start; see {self.data_dir / 'cloud.log'}")
        self.info = dict(part.split("=", 1) for part in line.split()[3:])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def mqtts(self) -> tuple[str, int]:
        host, port = self.info["mqtts"].removeprefix("mqtts://").rsplit(":", 1)
        return host, int(port)

    @property
    def certs(self) -> Path:
        return Path(self.info["certs"])

    @property
    def broker_pid(self) -> int:
        """The stand-in broker's pid (``cloud up`` restarts it when it dies)."""
        return int((self.data_dir / "mosquitto.pid").read_text())

    def sync_settings(self, thing: str, url: str | None = None, s3_url: str | None = None) -> dict[str, Any]:
        """An edge's settings to sync as ``thing`` (a fresh certificate), to
        ``url`` (default: the broker itself; a proxy in front of it in tests),
        pictures to the local bucket at ``s3_url`` (default: moto itself).  Any
        AWS credentials do for moto: the edge needs some in its environment."""
        cert = issue_core_certificate(self.certs, thing)
        return {
            "sync_url": url or self.info["mqtts"], "sync_thing": thing, "sync_cert_file": str(cert.cert),
            "sync_key_file": str(cert.key), "sync_ca_file": self.info["ca"],
            "sync_pictures_bucket": self.info["pictures"], "sync_s3_region": "us-east-1",
            "sync_s3_endpoint_url": s3_url or self.info["moto"],
        }  # fmt: skip

    def core_client(self, thing: str) -> mqtt.Client:
        """A paho MQTT5 client with ``thing``'s certificate (not yet connected)."""
        cert = issue_core_certificate(self.certs, thing)
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=thing, protocol=mqtt.MQTTv5)
        c.tls_set(ca_certs=self.info["ca"], certfile=str(cert.cert), keyfile=str(cert.key))
        c.max_inflight_messages_set(100)
        return c
