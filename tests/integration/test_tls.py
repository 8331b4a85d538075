"""TLS on the LAN listeners: a self-signed certificate made at first start."""

import pytest

from tests.support.edge import ChatClient, running_edge

pytestmark = pytest.mark.integration


def test_tls_listeners_with_a_self_signed_certificate(tmp_path):
    with running_edge(tmp_path / "data", {"tls": True}) as edge:
        cert = edge.data_dir / "tls" / "cert.pem"
        assert cert.exists() and (edge.data_dir / "tls" / "key.pem").stat().st_mode & 0o077 == 0
        assert f"mqtts://127.0.0.1:{edge.mqtt_port}" in edge.ready_line
        assert f"wss://127.0.0.1:{edge.ws_port}/mqtt" in edge.ready_line
        creds = edge.credentials("Sec")
        assert creds["mqttUrl"].startswith("mqtts://") and creds["wsUrl"].startswith("wss://")

        for port, transport in ((edge.mqtt_port, "tcp"), (edge.ws_port, "websockets")):
            secure = ChatClient(port, creds["username"], creds["password"], transport=transport, ca_file=cert)
            assert secure.connect() == 0
            secure.subscribe(f"chat/in/{secure.client_id}")
            assert secure.request({"type": "hello"}, "welcome")["type"] == "welcome"
            secure.close()

        plain = ChatClient(edge.mqtt_port, creds["username"], creds["password"])
        with pytest.raises((OSError, TimeoutError)):
            plain.connect(timeout_s=3)
        plain.close()


def test_the_certificate_is_kept_across_restarts(tmp_path):
    with running_edge(tmp_path / "data", {"tls": True}) as edge:
        first = (edge.data_dir / "tls" / "cert.pem").read_bytes()
    with running_edge(tmp_path / "data", {"tls": True}) as edge:
        assert (edge.data_dir / "tls" / "cert.pem").read_bytes() == first


def test_the_web_app_is_served_over_https_and_points_at_wss(tmp_path):
    import json
    import ssl
    import urllib.request

    with running_edge(tmp_path / "data", {"tls": True}) as edge:
        assert f"https://127.0.0.1:{edge.http_port}/" in edge.ready_line
        context = ssl.create_default_context(cafile=str(edge.data_dir / "tls" / "cert.pem"))
        with urllib.request.urlopen(f"https://127.0.0.1:{edge.http_port}/config.json", context=context) as r:
            config = json.load(r)
        assert config["wsUrl"] == f"wss://127.0.0.1:{edge.ws_port}/mqtt"
