"""The browser's presigner (web/src/iot-url.js, run by Node) agrees with the
Python one, which matches AWS's published vectors."""

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edgechat.cloud.sigv4 import Credentials, iot_websocket_url

JS = Path(__file__).resolve().parents[2] / "web" / "src" / "iot-url.js"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def _node(script: str) -> str:
    run = subprocess.run(
        ["node", "--input-type=module", "-e", f"import * as m from {json.dumps(JS.as_uri())};\n{script}"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return run.stdout.strip()


def test_s3_published_example():
    out = _node(
        "console.log(await m.presign('https://examplebucket.s3.amazonaws.com/test.txt', {region: 'us-east-1',"
        " service: 's3', accessKeyId: 'AKIAIOSFODNN7EXAMPLE',"
        " secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', when: '20130524T000000Z',"
        " expires: 86400, payloadHash: 'UNSIGNED-PAYLOAD'}))"
    )
    assert out.endswith("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")


def test_iot_url_matches_python():
    when = datetime(2026, 11, 29, 12, 34, 56, tzinfo=UTC)
    creds = Credentials("ASIAEXAMPLE", "secret/key+x", "token with spaces/+=")
    expected = iot_websocket_url(creds, "abc-ats.iot.eu-west-1.amazonaws.com", "eu-west-1", when)
    out = _node(
        "console.log(await m.iotWebSocketUrl({endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',"
        " region: 'eu-west-1', accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret/key+x',"
        " sessionToken: 'token with spaces/+=', date: new Date('2026-11-29T12:34:56Z')}))"
    )
    assert out == expected


def test_cognito_flow_against_the_local_stand_in(moto_url):
    from tests.support.moto import client

    pool = client(moto_url, "cognito-identity").create_identity_pool(
        IdentityPoolName="t", AllowUnauthenticatedIdentities=True
    )["IdentityPoolId"]
    cloud = {"cognitoEndpoint": moto_url, "identityPoolId": pool, "region": "us-east-1",
             "iotEndpoint": "x-ats.iot.us-east-1.amazonaws.com"}  # fmt: skip
    out = json.loads(_node(f"console.log(JSON.stringify(await m.connectParams({json.dumps(cloud)})))"))
    assert out["clientId"].startswith("us-east-1:")
    assert out["url"].startswith(
        "wss://x-ats.iot.us-east-1.amazonaws.com/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    )
    assert "X-Amz-Security-Token=" in out["url"]
