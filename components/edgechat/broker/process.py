"""Mosquitto as a child process: render its files, start it, watch it, stop it."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import shutil
import signal
from pathlib import Path

from edgechat import tls
from edgechat.broker.config import CLIENT_ACL, SYSTEM_ACL, BrokerFiles, render_config
from edgechat.broker.credentials import broker_files, system_password
from edgechat.settings import Settings

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class BrokerError(Exception):
    """Mosquitto is missing or would not start."""


def _die_with_parent() -> None:
    # If edgechat is killed -9, the kernel sends the broker SIGTERM: no orphan.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def find_mosquitto() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise BrokerError("mosquitto not found: install it (apt-get install mosquitto) or run `make run`")


def prepare(settings: Settings) -> BrokerFiles:
    """Write the broker's config, ACLs and password files for ``settings``."""
    files = broker_files(settings)
    files.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    system_password(settings)
    files.client_passwords.touch(mode=0o600, exist_ok=True)
    files.client_acl.write_text(CLIENT_ACL)
    files.system_acl.write_text(SYSTEM_ACL)
    try:
        pair = tls.certificate(settings) if settings.tls else None
    except tls.TlsError as exc:
        raise BrokerError(str(exc)) from None
    files.config.write_text(render_config(settings, files, tls=pair, run_as_root=os.geteuid() == 0))
    return files


async def _port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


class Broker:
    """``async with Broker(settings)``: Mosquitto runs inside the block."""

    def __init__(self, settings: Settings, *, start_timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.files = broker_files(settings)
        self.start_timeout_s = start_timeout_s
        self.process: asyncio.subprocess.Process | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    async def __aenter__(self) -> Broker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        binary = find_mosquitto()
        prepare(self.settings)
        self._stopping = False
        log_file = open(self.files.log, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.process = await asyncio.create_subprocess_exec(
                binary, "-c", str(self.files.config),
                stdin=asyncio.subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                preexec_fn=_die_with_parent, start_new_session=True,
            )  # fmt: skip
        finally:
            log_file.close()
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        s = self.settings
        probe_host = "127.0.0.1" if s.host in ("0.0.0.0", "::", "") else s.host
        ports = [("127.0.0.1", s.internal_port), (probe_host, s.mqtt_port), ("127.0.0.1", s.ws_port)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.start_timeout_s
        assert self.process is not None
        while loop.time() < deadline:
            if self.process.returncode is not None:
                raise BrokerError(f"mosquitto exited with {self.process.returncode}: {self._log_tail()}")
            if all([await _port_open(h, p) for h, p in ports]):
                return
            await asyncio.sleep(0.02)
        await self.stop()
        raise BrokerError(f"mosquitto did not open its ports in {self.start_timeout_s} s: {self._log_tail()}")

    def _log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(Path(self.files.log).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def reload(self) -> None:
        """Re-read password and ACL files (new or revoked credentials)."""
        if self.process and self.process.returncode is None:
            self.process.send_signal(signal.SIGHUP)

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def stop(self, timeout_s: float = 5.0) -> None:
        self._stopping = True
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            log.warning("mosquitto ignored SIGTERM for %s s; killing it", timeout_s)
            proc.kill()
            await proc.wait()
