"""The browser app's cloud mode, end to end as far as this machine allows.

The page gets a guest identity and temporary credentials from Cognito
(moto_server), presigns ``wss://…/mqtt`` with them (web/src/iot-url.js),
connects with the identity id as its client id and no username or password,
renews its credentials before they expire, and chats with a paho client through
the cloud's own Router handler (the template's rules, run by the local rules
runner, state in DynamoDB on moto).

The stand-in for IoT Core is a Mosquitto WebSocket listener over TLS that
accepts any connection and binds topics to the client id by ACL (``%c``): it
does NOT check the SigV4 signature, so the test checks the URL itself instead:
it must equal the Python presigner's (which matches AWS's published vectors)
for the credentials Cognito handed out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.support.edge import ChatClient, free_port
from tests.support.moto import FAKE_ENV
from tests.web.conftest import DIST, TIMEOUT_MS, WATCH_CSP, room_name

from edgechat.broker import passwords
from edgechat.broker.config import SYSTEM_USER
from edgechat.cloud import template
from edgechat.cloud.handlers.deps import build
from edgechat.cloud.local import broker, certs, provision
from edgechat.cloud.local.rules import RulesRunner, compile_rules
from edgechat.cloud.sigv4 import Credentials, iot_websocket_url
from edgechat.core.protocol import Limits
from edgechat.web.security import CONTENT_SECURITY_POLICY, SECURITY_HEADERS

pytestmark = pytest.mark.integration

REGION = FAKE_ENV["AWS_DEFAULT_REGION"]

# IoT Core's policy binds the topics to the client id; so does this ACL.
BROWSER_ACL = """\
pattern write chat/out/%c
pattern write chat/stream/%c
pattern read chat/in/%c
pattern read chat/pub/+
"""


@dataclass
class IotStandIn:
    ws_port: int
    ca: Path
    web: str
    moto: str

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.ws_port}"


def _mosquitto_conf(root: Path, internal: int, ws: int, server: certs.CertFiles, system_pw: str) -> Path:
    (root / "system.acl").write_text(broker.SYSTEM_ACL)
    (root / "browsers.acl").write_text(BROWSER_ACL)
    passwords.write_users(root / "system.passwd", {SYSTEM_USER: passwords.hash_password(system_pw)})
    conf = root / "mosquitto.conf"
    conf.write_text(
        "\n".join([
            "per_listener_settings true", "persistence false", "log_dest stderr", "log_type error",
            "user root" if os.geteuid() == 0 else "",
            f"listener {internal} 127.0.0.1", "allow_anonymous false",
            f"password_file {root / 'system.passwd'}", f"acl_file {root / 'system.acl'}",
            f"listener {ws} 127.0.0.1", "protocol websockets",
            f"certfile {server.cert}", f"keyfile {server.key}",
            "allow_anonymous true", f"acl_file {root / 'browsers.acl'}", "",
        ])
    )  # fmt: skip
    return conf


def _wait_port(port: int, proc: subprocess.Popen) -> None:
    import socket

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "mosquitto exited"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def _web_server(config: dict[str, Any], csp: str) -> ThreadingHTTPServer:
    """web/dist and /config.json, with CloudFront's headers (a CSP as narrow as the template's)."""
    types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".map": "application/json"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if path == "/config.json":
                body, ctype = json.dumps(config).encode(), "application/json"
            else:
                file = (DIST / (path.lstrip("/") or "index.html")).resolve()
                if DIST.resolve() not in file.parents or not file.is_file():
                    self.send_error(404)
                    return
                body, ctype = file.read_bytes(), types.get(file.suffix, "application/octet-stream")
            self.send_response(200)
            for name, value in {**SECURITY_HEADERS, "Content-Security-Policy": csp}.items():
                self.send_header(name, value)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def iot(tmp_path_factory, moto_url) -> Iterator[IotStandIn]:
    import boto3

    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    root = tmp_path_factory.mktemp("iot")
    session = boto3.Session(
        aws_access_key_id=FAKE_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    made = provision.provision(session, moto_url, f"webcloud-{uuid.uuid4().hex[:6]}")
    ca = certs.ensure_ca(root / "ca")
    server = certs.issue(ca, root / "ca", "iot", server_names=("127.0.0.1", "localhost"))
    internal, ws = free_port(), free_port()
    system_pw = passwords.new_password()
    conf = _mosquitto_conf(root, internal, ws, server, system_pw)
    proc = subprocess.Popen([mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    runner = web = None
    try:
        _wait_port(internal, proc)
        _wait_port(ws, proc)
        kinesis = session.client("kinesis", endpoint_url=moto_url)

        def put_record(name: str, data: bytes, key: str) -> None:
            kinesis.put_record(StreamName=name, Data=data, PartitionKey=key)

        runner = RulesRunner(
            compile_rules(template.rules(template.load())), port=internal, username=SYSTEM_USER,
            password=system_pw, streams={"ChatStream": made.stream}, put_record=put_record,
        )  # fmt: skip
        deps = build(
            session.client("dynamodb", endpoint_url=moto_url), made.table, "cloud", runner.publish, 30
        )
        runner.start(deps)
        endpoint = f"127.0.0.1:{ws}"
        config = {
            "mode": "cloud", "site": "cloud", "wsUrl": f"wss://{endpoint}/mqtt", "historyUrl": "/history/",
            "limits": Limits().to_json(),
            "cloud": {"region": REGION, "iotEndpoint": endpoint, "identityPoolId": made.identity_pool_id,
                      "cognitoEndpoint": moto_url},
        }  # fmt: skip
        # What the template's response headers policy allows, with these origins.
        csp = CONTENT_SECURITY_POLICY.replace(
            "connect-src 'self' ws: wss:", f"connect-src 'self' wss://{endpoint} {moto_url}"
        )
        web = _web_server(config, csp)
        yield IotStandIn(ws, ca.cert, f"http://127.0.0.1:{web.server_port}", moto_url)
    finally:
        if web is not None:
            web.shutdown()
            web.server_close()
        if runner is not None:
            runner.stop()
        proc.terminate()
        proc.wait(timeout=10)


def _presigned(url: str, creds: dict[str, Any], endpoint: str) -> str:
    """What the Python presigner makes of ``creds`` at the time ``url`` was signed."""
    when = parse_qs(urlsplit(url).query)["X-Amz-Date"][0]
    date = datetime.strptime(when, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    signer = Credentials(creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"])
    return iot_websocket_url(signer, endpoint, REGION, date)


def test_a_cloud_page_gets_an_identity_presigns_renews_and_chats(browser, iot):
    room = room_name("cloud")
    device = ChatClient(iot.ws_port, None, None, client_id=f"paho-{uuid.uuid4().hex[:8]}",
                        transport="websockets", ca_file=iot.ca)  # fmt: skip
    context = browser.new_context(ignore_https_errors=True)  # the stand-in's certificate is from a local CA
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(WATCH_CSP)
    sockets: list[str] = []
    issued: list[dict[str, Any]] = []  # the credentials Cognito handed out, in order
    errors: list[str] = []

    def cognito(route: Any) -> None:
        # Pass Cognito's answers through, but make the first credentials short-lived
        # so the page has to renew them during the test.
        response = route.fetch()
        target = route.request.headers.get("x-amz-target", "")
        if not target.endswith("GetCredentialsForIdentity") or response.status != 200:
            route.fulfill(response=response)
            return
        body = response.json()
        creds = body["Credentials"]
        # moto hands out the same keys every time: make each issue distinct, so
        # a URL shows which credentials signed it.
        n = len(issued)
        creds["AccessKeyId"] = f"ASIATEST{n:06d}"
        creds["SecretKey"] = f"{creds['SecretKey']}/{n}+"
        creds["SessionToken"] = f"{creds['SessionToken']} {n}/+="
        if not issued:
            creds["Expiration"] = time.time() + 12
        issued.append(creds)
        route.fulfill(response=response, json=body)

    try:
        assert device.connect() == 0
        device.subscribe(f"chat/in/{device.client_id}", f"chat/pub/{room}")
        assert device.request({"type": "hello", "nick": "Sensor"}, "welcome", 30)["site"] == "cloud"
        device.request({"type": "join", "room": room}, "joined", 30)

        context.route(f"{iot.moto}/**", cognito)
        page = context.new_page()
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{iot.web}/#/room/{room}")
        page.fill("#nick-input", "Pat")
        page.click("#nick-save")
        page.wait_for_selector('#banner[data-status="connected"]')
        assert page.text_content("#banner-text") == "Connected to the cloud"

        # The identity came from Cognito and is the client id; the URL is presigned.
        identity = page.evaluate("sessionStorage.getItem('edgechat.identityId')")
        assert identity.startswith(f"{REGION}:")
        assert page.evaluate("sessionStorage.getItem('edgechat.session')") is None  # no /api/session
        assert sockets[0].startswith(f"wss://{iot.endpoint}/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&")
        assert sockets[0] == _presigned(sockets[0], issued[0], iot.endpoint)

        # It chats, as its identity, both ways.
        page.fill("#text", "hello from a cloud page")
        page.press("#text", "Enter")
        ((_, seen),) = device.wait_for(lambda t, b: b.get("text") == "hello from a cloud page", 30)
        assert seen["clientId"] == identity and seen["nick"] == "Pat" and seen["site"] == "cloud"
        device.send({"type": "message", "id": "dev00001", "room": room, "text": "<b>reading</b> 21.5"})
        page.wait_for_function(
            "() => [...document.querySelectorAll('#messages li .text')]"
            ".some(e => e.textContent === '<b>reading</b> 21.5')"
        )
        assert page.locator("#messages b").count() == 0  # text stays text

        # Before the short-lived credentials expire, the page presigns a fresh URL
        # with new ones and reconnects as the same identity.
        def renewed() -> str | None:
            signed = [
                u for u in sockets if len(issued) > 1 and f"Credential={issued[1]['AccessKeyId']}%2F" in u
            ]
            return signed[0] if signed else None

        deadline = time.monotonic() + 30
        while renewed() is None and time.monotonic() < deadline:
            page.wait_for_timeout(100)  # polls the condition; events are handled meanwhile
        second = renewed()
        assert second is not None, f"no reconnect with fresh credentials: {sockets}"
        assert second == _presigned(second, issued[1], iot.endpoint)
        page.wait_for_selector('#banner[data-status="connected"]')
        assert page.evaluate("sessionStorage.getItem('edgechat.identityId')") == identity
        page.fill("#text", "still here after renewing")
        page.press("#text", "Enter")
        ((_, again),) = device.wait_for(lambda t, b: b.get("text") == "still here after renewing", 30)
        assert again["clientId"] == identity
        assert errors == []
        assert page.evaluate("window.__cspViolations") == []
    finally:
        context.close()
        device.close()
