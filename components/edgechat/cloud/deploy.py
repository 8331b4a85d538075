"""``edgechat cloud deploy|delete``: the SAM template to AWS and back.

Deploy: ``sam build`` + ``sam deploy`` (the AWS SAM CLI, ``pip install
aws-sam-cli``), with the account's IoT data endpoint filled in; then the web app
(web/dist) and its ``config.json`` in cloud mode go to the private bucket.
Delete: empty the web bucket (CloudFormation cannot delete a full one), then
``sam delete``.  The chat table is retained (DeletionPolicy) so history survives
a mistaken delete; docs/cloud.md says how to drop it.  Region: ``--region``,
else AWS_REGION / the AWS config, never a default.
"""

from __future__ import annotations

import argparse
import mimetypes
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from edgechat.cloud.template import TEMPLATE
from edgechat.core.protocol import Limits
from edgechat.web.service import DEFAULT_DIST


def cloud_config(outputs: dict[str, str], region: str, iot_endpoint: str) -> dict[str, Any]:
    """The web app's ``/config.json`` in cloud mode, from the stack's outputs."""
    return {
        "mode": "cloud",
        "site": "cloud",
        "wsUrl": f"wss://{iot_endpoint}/mqtt",  # presigned by the browser (web/src/iot-url.js)
        "historyUrl": f"{outputs['HistoryApiUrl']}/history/",
        # CloudFront serves PicturesBucket under /pictures/* beside the app: same origin.
        "picturesUrl": "/pictures/",
        "limits": Limits().to_json(),
        "cloud": {
            "region": region,
            "iotEndpoint": iot_endpoint,
            "identityPoolId": outputs["IdentityPoolId"],
            "userPoolId": outputs["UserPoolId"],
            "userPoolClientId": outputs["UserPoolClientId"],
            "cognitoEndpoint": f"https://cognito-identity.{region}.amazonaws.com",
        },
    }


def deploy_commands(
    stack: str, region: str, iot_endpoint: str, build_dir: Path, params: list[str]
) -> list[list[str]]:
    return [
        ["sam", "build", "--template-file", str(TEMPLATE), "--build-dir", str(build_dir)],
        [
            "sam", "deploy", "--template-file", str(build_dir / "template.yaml"), "--stack-name", stack,
            "--region", region, "--resolve-s3", "--capabilities", "CAPABILITY_IAM",
            "--no-fail-on-empty-changeset",
            "--parameter-overrides", f"IotDataEndpoint={iot_endpoint}", *params,
        ],
    ]  # fmt: skip


def _region(args: argparse.Namespace) -> str | None:
    if args.region:
        return args.region
    import boto3

    return os.environ.get("AWS_REGION") or boto3.Session().region_name


def _run(commands: list[list[str]], dry_run: bool) -> int:
    for cmd in commands:
        print("+", shlex.join(cmd), flush=True)
        if not dry_run:
            if shutil.which(cmd[0]) is None:
                print(f"edgechat cloud: {cmd[0]} not found (pip install aws-sam-cli)", file=sys.stderr)
                return 2
            if (rc := subprocess.run(cmd, check=False).returncode) != 0:
                return rc
    return 0


def _outputs(session: Any, stack: str) -> dict[str, str]:
    got = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in got.get("Outputs", [])}


def deploy(args: argparse.Namespace) -> int:
    import json

    region = _region(args)
    if not region:
        print("edgechat cloud: no region: pass --region or set AWS_REGION", file=sys.stderr)
        return 2
    if args.dry_run:
        endpoint = "<account>-ats.iot.<region>.amazonaws.com"
    else:
        import boto3

        session = boto3.Session(region_name=region)
        endpoint = session.client("iot").describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    build_dir = Path(".aws-sam") / "build"
    rc = _run(deploy_commands(args.stack_name, region, endpoint, build_dir, args.parameter), args.dry_run)
    if rc or args.dry_run:
        return rc
    outputs = _outputs(session, args.stack_name)
    s3 = session.client("s3")
    bucket = outputs["WebBucketName"]
    for path in sorted(DEFAULT_DIST.rglob("*")) if DEFAULT_DIST.exists() else []:
        if path.is_file():
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            key = str(path.relative_to(DEFAULT_DIST))
            s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": kind})
    body = json.dumps(cloud_config(outputs, region, endpoint)).encode()
    s3.put_object(Bucket=bucket, Key="config.json", Body=body, ContentType="application/json",
                  CacheControl="no-store")  # fmt: skip
    print(f"edgechat cloud deployed: {outputs['WebUrl']}")
    return 0


def delete(args: argparse.Namespace) -> int:
    region = _region(args)
    if not region:
        print("edgechat cloud: no region: pass --region or set AWS_REGION", file=sys.stderr)
        return 2
    if not args.dry_run:
        import boto3

        session = boto3.Session(region_name=region)
        bucket = _outputs(session, args.stack_name).get("WebBucketName")
        if bucket:
            session.resource("s3").Bucket(bucket).objects.all().delete()
    cmd = ["sam", "delete", "--stack-name", args.stack_name, "--region", region, "--no-prompts"]
    return _run([cmd], args.dry_run)
