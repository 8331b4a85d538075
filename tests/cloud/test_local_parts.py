"""Pure parts of the local cloud and the deploy wrapper: rule routing over the
template, the stand-in broker's config, config.json in cloud mode."""

import argparse
import base64
import json

from edgechat.cloud import template
from edgechat.cloud.deploy import cloud_config, delete, deploy
from edgechat.cloud.local import broker
from edgechat.cloud.local.rules import compile_rules, handler_entry, publisher_of, route
from edgechat.cloud.template import KinesisTarget, LambdaTarget

RULES = compile_rules(template.rules(template.load()))


def test_route_fires_the_template_rules():
    (firing,) = route(RULES, "chat/out/ann", b'{"type":"hello"}', 42)
    assert isinstance(firing.target, LambdaTarget)
    assert firing.output == {"payload": base64.b64encode(b'{"type":"hello"}').decode(), "clientId": "ann",
                             "receivedMs": 42}  # fmt: skip
    assert handler_entry(firing.target.handler).__module__ == "edgechat.cloud.handlers.router"
    (firing,) = route(RULES, "chat/stream/ann", b"{}", 1)
    assert isinstance(firing.target, KinesisTarget) and firing.partition_key == "ann"
    (firing,) = route(RULES, "sync/site-a/up", b"{}", 1)
    assert firing.output["thingName"] == "site-a"
    assert route(RULES, "chat/in/ann", b"{}", 1) == []
    assert route(RULES, "chat/out/ann/extra", b"{}", 1) == []


def test_lifecycle_rules_are_left_to_last_wills_locally():
    assert [r.spec.name for r in RULES if not r.local] == ["PresenceFunctionDisconnected"]


def test_publisher_is_the_id_the_acl_puts_in_the_topic():
    assert publisher_of("chat/out/ann") == "ann" and publisher_of("sync/site-a/up") == "site-a"
    assert publisher_of("chat/pub/lobby") is None


def test_broker_config_binds_identities(tmp_path):
    files = broker.Files(tmp_path)
    text = broker.render(broker.Ports(1, 2, 3), "127.0.0.1", files, ca=tmp_path / "ca", cert=tmp_path / "c",
                         key=tmp_path / "k", run_as_root=False)  # fmt: skip
    mtls = text.split("listener 2 ")[1].split("listener 3")[0]
    assert "require_certificate true" in mtls and "use_identity_as_username true" in mtls
    assert "use_username_as_clientid true" in mtls and str(files.core_acl) in mtls
    assert "pattern write sync/%u/up" in broker.CORE_ACL and "write chat" not in broker.CORE_ACL


def test_cloud_config_json():
    outputs = {
        "HistoryApiUrl": "https://abc.execute-api.eu-west-1.amazonaws.com",
        "IdentityPoolId": "eu-west-1:x",
        "UserPoolId": "eu-west-1_y",
        "UserPoolClientId": "z",
    }
    config = cloud_config(outputs, "eu-west-1", "a1-ats.iot.eu-west-1.amazonaws.com")
    assert config["mode"] == "cloud" and config["wsUrl"] == "wss://a1-ats.iot.eu-west-1.amazonaws.com/mqtt"
    assert config["cloud"]["identityPoolId"] == "eu-west-1:x"
    assert config["picturesUrl"] == "/pictures/"  # the distribution's /pictures/* behaviour
    json.dumps(config)


def test_deploy_and_delete_dry_runs_need_a_region(capsys, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    args = argparse.Namespace(stack_name="chat", region=None, dry_run=True, parameter=["RetentionDays=7"])
    assert deploy(args) == 2 and delete(args) == 2
    args.region = "eu-west-1"
    assert deploy(args) == 0 and delete(args) == 0
    out = capsys.readouterr().out
    assert "sam deploy" in out and "--region eu-west-1" in out and "RetentionDays=7" in out
    assert "sam delete --stack-name chat --region eu-west-1" in out
