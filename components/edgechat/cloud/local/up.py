"""``edgechat cloud up``: the local cloud, in the foreground, until SIGINT/SIGTERM.

Starts moto_server (DynamoDB, Kinesis, Cognito), provisions what the template
declares, a second Mosquitto standing in for IoT Core, the rules runner, the
Kinesis poller and the web app in cloud mode; prints one
``edgechat cloud ready …`` line; stops everything it started, in reverse.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from pathlib import Path
from typing import Any

from aiohttp import web

from edgechat.broker import passwords
from edgechat.broker.config import SYSTEM_USER
from edgechat.cloud import template
from edgechat.cloud.handlers import stream as stream_handler
from edgechat.cloud.handlers.deps import Deps, Publish, build
from edgechat.cloud.local import broker, certs, provision
from edgechat.cloud.local import web as cloud_web
from edgechat.cloud.local.poller import KinesisPoller
from edgechat.cloud.local.rules import RulesRunner, compile_rules
from edgechat.core.protocol import Limits
from edgechat.store.memory import MemoryStore
from edgechat.web.service import DEFAULT_DIST

log = logging.getLogger("edgechat.cloud")

SITE = "cloud"
RETENTION_DAYS = 30


class StartupError(Exception):
    pass


def _die_with_parent() -> None:
    # Killed -9, `cloud up` takes its children with it (PR_SET_PDEATHSIG).
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartupError(f"{what} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise StartupError(f"{what} did not listen on {port} within {timeout_s} s")


def _start(argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    out = log_path.open("ab")
    return subprocess.Popen(argv, stdout=out, stderr=out, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _broker_files(data: Path, host: str, ports: broker.Ports) -> tuple[broker.Files, str, certs.CertFiles]:
    """Write the stand-in broker's config, ACLs and passwords; the system password."""
    ca = certs.ensure_ca(data / "ca")
    server = certs.issue(ca, data / "ca", "broker", server_names=("127.0.0.1", "localhost", host))
    files = broker.Files(data / "broker")
    for attr, text in broker.acl_files().items():
        getattr(files, attr).write_text(text)
    system_password = passwords.new_password()
    passwords.write_users(files.system_passwd, {SYSTEM_USER: passwords.hash_password(system_password)})
    files.client_passwd.touch(mode=0o600, exist_ok=True)
    files.config.write_text(
        broker.render(ports, host, files, ca=ca.cert, cert=server.cert, key=server.key,
                      run_as_root=os.geteuid() == 0)
    )  # fmt: skip
    return files, system_password, ca


async def _serve(args: argparse.Namespace) -> int:
    import boto3

    data = Path(args.data_dir).resolve()
    (data / "broker").mkdir(parents=True, exist_ok=True, mode=0o700)
    host = args.host
    base = args.port_base
    http, ws, mqtts, internal, moto = (base + i if base else _free_port("127.0.0.1") for i in range(5))
    loop = asyncio.get_running_loop()
    async with AsyncExitStack() as stack:
        # moto_server: DynamoDB, Kinesis, Cognito
        children: dict[subprocess.Popen, str] = {}
        moto_url = args.moto_url or f"http://127.0.0.1:{moto}"
        if not args.moto_url:
            env = {**os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
            moto_exe = shutil.which("moto_server") or str(Path(sys.executable).with_name("moto_server"))
            moto_proc = _start([moto_exe, "-H", "127.0.0.1", "-p", str(moto)], data / "moto.log", env)
            stack.callback(_stop, moto_proc)
            children[moto_proc] = "moto_server"
            await loop.run_in_executor(None, _wait_port, moto, moto_proc, "moto_server")
        await loop.run_in_executor(None, lambda: urllib.request.urlopen(f"{moto_url}/moto-api/").close())
        session = boto3.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=args.region
        )
        prefix = f"edgechat-{secrets.token_hex(3)}" if args.moto_url else "edgechat-local"  # share-safe
        made = await loop.run_in_executor(None, provision.provision, session, moto_url, prefix)

        # the stand-in for IoT Core
        files, system_password, ca = _broker_files(data, host, broker.Ports(internal, mqtts, ws))
        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.access(mosquitto, os.X_OK):
            raise StartupError("mosquitto not found: apt-get install mosquitto")
        broker_child = _Restartable([mosquitto, "-c", str(files.config)], data / "mosquitto")
        stack.callback(lambda: _stop(broker_child.proc))
        children[broker_child.start()] = "mosquitto"
        await loop.run_in_executor(None, _wait_port, internal, broker_child.proc, "mosquitto")

        # the rules, the handlers and the stream
        kinesis = session.client("kinesis", endpoint_url=moto_url)

        def put_record(name: str, payload: bytes, key: str) -> None:
            kinesis.put_record(StreamName=name, Data=payload, PartitionKey=key)

        runner = RulesRunner(
            compile_rules(template.rules(template.load())), port=internal, username=SYSTEM_USER,
            password=system_password, put_record=put_record, streams={"ChatStream": made.stream},
        )  # fmt: skip
        dynamodb = session.client("dynamodb", endpoint_url=moto_url)
        deps = _handler_deps(args, dynamodb, made.table, runner.publish)
        await loop.run_in_executor(None, runner.start, deps)
        stack.callback(runner.stop)
        poller = KinesisPoller(kinesis, made.stream, lambda event: stream_handler.handle(event, deps))
        await loop.run_in_executor(None, poller.start)
        stack.callback(poller.stop)

        # the web app in cloud mode
        ws_url = f"ws://{host}:{ws}/mqtt"
        config = {
            "mode": "cloud", "site": SITE, "wsUrl": ws_url, "sessionUrl": "/api/session",
            "historyUrl": "/history/", "picturesUrl": "/pictures/", "limits": Limits().to_json(),
            "cloud": {"region": args.region, "identityPoolId": made.identity_pool_id,
                      "cognitoEndpoint": moto_url, "iotEndpoint": f"{host}:{ws}", "local": True},
        }  # fmt: skip
        reload = lambda: broker_child.proc.send_signal(signal.SIGHUP)  # noqa: E731
        issue = cloud_web.make_issuer(files.client_passwd, reload, ws_url, ws)
        pictures = cloud_web.BucketPictures(session.client("s3", endpoint_url=moto_url), made.pictures_bucket)
        runner_web = web.AppRunner(
            cloud_web.app(config, deps, issue, DEFAULT_DIST, pictures), access_log=None
        )
        await runner_web.setup()
        stack.push_async_callback(runner_web.cleanup)
        await web.TCPSite(runner_web, host, http).start()

        print(
            f"edgechat cloud ready web=http://{host}:{http} ws={ws_url} mqtts=mqtts://{host}:{mqtts} "
            f"moto={moto_url} ca={ca.cert} certs={data / 'ca'} table={made.table} stream={made.stream} "
            f"pictures={made.pictures_bucket}",
            flush=True,
        )
        # IoT Core does not stay down: neither does its stand-in (kill -9 it to test
        # what a broker outage does; the rules runner reconnects by itself).
        return await _until_stopped(loop, children, {"mosquitto": broker_child.start})


def _handler_deps(args: argparse.Namespace, dynamodb: Any, table: str, publish: Publish) -> Deps:
    deps = build(dynamodb, table, SITE, publish, RETENTION_DAYS)
    if getattr(args, "store", "dynamodb") == "memory":
        deps.store = MemoryStore()  # type: ignore[assignment]  (the same MessageStore contract)
    return deps


class _Restartable:
    """A child started again with the same argv; ``<base>.pid`` names the current one."""

    def __init__(self, argv: list[str], base: Path) -> None:
        self.argv, self.base = argv, base
        self.proc: subprocess.Popen = None  # type: ignore[assignment]  (set by start)

    def start(self) -> subprocess.Popen:
        self.proc = _start(self.argv, self.base.with_suffix(".log"))
        tmp = self.base.with_suffix(".pid.tmp")
        tmp.write_text(f"{self.proc.pid}\n")
        os.replace(tmp, self.base.with_suffix(".pid"))
        return self.proc


async def _until_stopped(
    loop: asyncio.AbstractEventLoop,
    children: dict[subprocess.Popen, str],
    restarts: dict[str, Callable[[], subprocess.Popen]],
) -> int:
    """Until SIGINT/SIGTERM.  A child named in ``restarts`` is started again when
    it dies; any other child's death stops the local cloud."""
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.2)
        for proc, what in list(children.items()):
            if proc.poll() is None:
                continue
            if what not in restarts:
                log.error("%s exited with %s; stopping", what, proc.returncode)
                return 1
            log.error("%s exited with %s; restarting it", what, proc.returncode)
            del children[proc]
            children[restarts[what]()] = what
    log.info("stopping the local cloud")
    return 0


def run_cloud_up(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_serve(args))
    except StartupError as exc:
        print(f"edgechat cloud: cannot start: {exc}", file=sys.stderr)
        return 2


def issue_core_certificate(certs_dir: Path, thing: str) -> certs.CertFiles:
    """A client certificate for edge core ``thing``, from the local cloud's CA."""
    ca = certs.CertFiles(certs_dir / "ca.pem", certs_dir / "ca.key")
    return certs.issue(ca, certs_dir / "cores", thing)


__all__ = ["issue_core_certificate", "run_cloud_up"]
