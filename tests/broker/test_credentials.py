"""Credentials and the broker's files, without a running broker."""

import base64
import time

from edgechat.broker import passwords
from edgechat.broker.config import BrokerFiles, render_config
from edgechat.broker.credentials import (
    expire,
    issue,
    issue_many,
    issued_addresses,
    live_client_ids,
    new_client_id,
    revoke,
)
from edgechat.core import names
from edgechat.core.admission import live_sessions
from edgechat.settings import Settings


def test_password_hashes_are_mosquittos_own_format():
    # The line mosquitto_passwd 2.0.11 wrote for alice / secret.
    line = (
        "$7$101$hyAQBAhCb8LG9Zm6$7orefKIyqyVe1EbK/oyZD1cUrQG1VkiFAiOpYumyhfrOmFBNNFbzvEsucnUm6WK69eC0NCj34TNq"
        "PDpZewKH3g=="
    )
    assert passwords.verify_password("secret", line)
    assert not passwords.verify_password("Secret", line)
    salt = base64.b64decode("hyAQBAhCb8LG9Zm6")
    assert passwords.hash_password("secret", salt=salt) == line


def test_client_ids_are_valid_and_never_look_like_options():
    for _ in range(2000):
        cid = new_client_id()
        assert names.client_id(cid) == cid and cid[0].isalnum()


def test_credentials_expire_and_leave_others(tmp_path):
    short = Settings(data_dir=tmp_path, credential_ttl_hours=1 / 3600)
    long = Settings(data_dir=tmp_path)
    brief = issue_many(short, 2)
    kept = issue_many(long, 1)
    files = BrokerFiles(tmp_path / "broker")
    assert set(passwords.read_users(files.client_passwords)) == {c.client_id for c in brief + kept}
    gone = expire(long, time.time_ns() // 1_000_000 + 2000)
    assert set(gone) == {c.client_id for c in brief}
    assert set(passwords.read_users(files.client_passwords)) == {kept[0].client_id}
    assert expire(long, time.time_ns() // 1_000_000 + 2000) == []


def test_web_sessions_remember_their_address_and_only_live_ones_count(tmp_path):
    short = Settings(data_dir=tmp_path, credential_ttl_hours=1 / 3600)
    long = Settings(data_dir=tmp_path)
    brief = issue(short, "A", address="10.0.0.7")
    kept = issue(long, "B", address="10.0.0.7")
    revoked = issue(long, "C", address="10.0.0.7")
    tool = issue(long, "D")  # `edgechat credentials new`: no address
    revoke(long, revoked.client_id)
    later = time.time_ns() // 1_000_000 + 2000  # past the short one's expiry
    issued = issued_addresses(long)
    assert tool.client_id not in issued
    live = live_client_ids(long, later)
    # Expired and revoked credentials stop counting at once, before any sweep.
    assert live_sessions(issued, live, "10.0.0.7") == 1
    assert kept.client_id in live and brief.client_id not in live
    expire(long, later)  # the sweep also forgets the expired one's address
    assert brief.client_id not in issued_addresses(long)
    issue(long, "E", address="10.0.0.8")  # the next issue forgets the revoked one's
    after = issued_addresses(long)
    assert revoked.client_id not in after and after[kept.client_id] == "10.0.0.7"


def test_the_rendered_config_keeps_the_system_account_on_loopback(tmp_path):
    s = Settings(data_dir=tmp_path, host="0.0.0.0", mqtt_port=1883, ws_port=9001, internal_port=18830)
    text = render_config(s, BrokerFiles(tmp_path / "broker"))
    listeners = text.split("listener ")[1:]
    internal = next(chunk for chunk in listeners if chunk.startswith("18830"))
    assert internal.startswith("18830 127.0.0.1") and "system.passwd" in internal
    for chunk in listeners:
        if not chunk.startswith("18830"):
            assert "clients.passwd" in chunk and "use_username_as_clientid true" in chunk
            assert "allow_anonymous false" in chunk
    assert "max_queued_messages 10000" in text and "per_listener_settings true" in text


def test_urls_name_a_host_a_phone_can_reach(tmp_path):
    import ipaddress
    import socket

    from edgechat.broker.credentials import lan_addresses, public_host, urls

    for address in lan_addresses():
        assert not ipaddress.IPv4Address(address).is_loopback
    anywhere = Settings(data_dir=tmp_path, host="0.0.0.0")
    expected = lan_addresses()[0] if lan_addresses() else socket.gethostname()
    assert public_host(anywhere) == expected
    assert public_host(Settings(data_dir=tmp_path, host="10.1.2.3")) == "10.1.2.3"
    named = Settings(data_dir=tmp_path, public_host="edge.farm", tls=True, http_port=8443)
    assert urls(named).http == "https://edge.farm:8443/" and urls(named).ws.startswith("wss://edge.farm:")
