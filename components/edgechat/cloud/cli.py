"""``edgechat cloud up|deploy|delete``: the local cloud, and the SAM deployment."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def cmd_up(args: argparse.Namespace) -> int:
    from edgechat.cloud.local.up import run_cloud_up

    return run_cloud_up(args)


def cmd_deploy(args: argparse.Namespace) -> int:
    from edgechat.cloud.deploy import deploy

    return deploy(args)


def cmd_delete(args: argparse.Namespace) -> int:
    from edgechat.cloud.deploy import delete

    return delete(args)


def register(sub: Any) -> None:
    """Add ``cloud`` to the ``edgechat`` command's subparsers."""
    cloud = sub.add_parser("cloud", help="the cloud half: run it locally, deploy it to AWS, delete it")
    actions = cloud.add_subparsers(dest="action", required=True)

    up = actions.add_parser("up", help="run the local cloud (Mosquitto, moto_server, rules runner)")
    up.add_argument("--data-dir", default="var/edgechat-cloud", help="where the local cloud keeps its files")
    up.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    up.add_argument("--region", default="us-east-1", help="the region the local cloud pretends to be")
    up.add_argument("--port-base", type=int, default=0, help="first of its ports (default: free ports)")
    up.add_argument("--moto-url", help="use this running moto_server instead of starting one")
    up.add_argument(
        "--store", choices=("dynamodb", "memory"), default="dynamodb",
        help="messages in DynamoDB on moto (default), or in memory for benchmarks: moto's "
        "TransactWriteItems copies the whole table per item, so writes slow as the table grows",
    )  # fmt: skip
    up.set_defaults(func=cmd_up)

    for name, func, what in (
        ("deploy", cmd_deploy, "build and deploy the SAM template with the sam CLI"),
        ("delete", cmd_delete, "delete the deployed stack"),
    ):
        p = actions.add_parser(name, help=what)
        p.add_argument("--stack-name", default="edgechat", help="CloudFormation stack name")
        p.add_argument("--region", help="AWS region (default: AWS_REGION or the AWS config's)")
        p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
        if name == "deploy":
            p.add_argument(
                "--parameter", action="append", default=[], metavar="KEY=VALUE", help="template parameter"
            )
        p.set_defaults(func=func)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use: edgechat cloud ...")
