"""``edgechat gg build | publish | deploy``: GDK's workflow for every component."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_BUILD_DIR = "greengrass-build"


def register(sub: Any) -> None:
    """Add ``gg`` to the ``edgechat`` command's subparsers."""
    gg = sub.add_parser("gg", help="Greengrass v2: build, publish and deploy the components")
    gg_sub = gg.add_subparsers(dest="gg_command", required=True)

    build = gg_sub.add_parser("build", help="write greengrass-build/ (recipes and artifacts) like GDK")
    build.add_argument("--component", action="append", help="only this component (repeatable)")
    build.add_argument("--version", help="component version (default: the package version)")
    build.add_argument("--out", default=DEFAULT_BUILD_DIR, help="build directory (default greengrass-build)")
    build.add_argument("--no-wheels", action="store_true", help="skip downloading wheels (recipes only)")
    build.add_argument(
        "--gdk", action="store_true",
        help="build the one component named in ./gdk-config.json, as GDK's custom build expects",
    )  # fmt: skip
    build.set_defaults(func=cmd_build)

    projects = gg_sub.add_parser("gdk-projects", help="rewrite the GDK project files (one per component)")
    projects.set_defaults(func=cmd_gdk_projects)

    publish = gg_sub.add_parser("publish", help="upload artifacts to S3 and create component versions")
    publish.add_argument("--bucket", required=True, help="bucket prefix; the bucket is PREFIX-REGION-ACCOUNT")
    publish.add_argument("--region", required=True)
    publish.add_argument("--exact-bucket", action="store_true", help="use --bucket as the full bucket name")
    publish.add_argument("--out", default=DEFAULT_BUILD_DIR, help="the build directory to publish")
    publish.add_argument("--component", action="append", help="only this component (repeatable)")
    publish.add_argument("--next-patch", action="store_true", help="version = latest published + 0.0.1")
    publish.set_defaults(func=cmd_publish)

    deploy = gg_sub.add_parser("deploy", help="deploy published components to a thing or thing group")
    deploy.add_argument("--target-arn", required=True, help="a thing or thing group ARN")
    deploy.add_argument("--region", required=True)
    deploy.add_argument("--component", action="append", help="NAME=VERSION (repeatable; default: all built)")
    deploy.add_argument("--out", default=DEFAULT_BUILD_DIR, help="build directory to read versions from")
    deploy.add_argument("--merge", action="append", default=[], help="NAME=JSON configuration to merge")
    deploy.add_argument("--reset", action="append", default=[], help="NAME=/pointer to reset to default")
    deploy.add_argument("--name", default="edgechat", help="deployment name")
    deploy.set_defaults(func=cmd_deploy)


def cmd_build(args: argparse.Namespace) -> int:
    from edgechat.greengrass.build import BuildError, build_all, build_for_gdk

    try:
        if args.gdk:
            built = build_for_gdk(Path.cwd(), fetch=not args.no_wheels)
        else:
            built = build_all(
                Path(args.out), names=args.component, version=args.version, fetch=not args.no_wheels
            )
    except BuildError as exc:
        print(f"edgechat gg build: {exc}", file=sys.stderr)
        return 2
    for item in built:
        print(f"built {item.name} {item.version}: {item.recipe}")
    return 0


def cmd_gdk_projects(args: argparse.Namespace) -> int:
    from edgechat.greengrass.build import write_gdk_projects

    for path in write_gdk_projects():
        print(f"wrote {path}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    import boto3

    from edgechat.greengrass.publish import PublishError, publish

    session = boto3.Session(region_name=args.region)
    try:
        published = publish(
            Path(args.out),
            s3=session.client("s3"),
            greengrass=session.client("greengrassv2"),
            sts=session.client("sts"),
            bucket=args.bucket,
            region=args.region,
            exact_bucket=args.exact_bucket,
            names=args.component,
            next_patch_version=args.next_patch,
        )
    except PublishError as exc:
        print(f"edgechat gg publish: {exc}", file=sys.stderr)
        return 2
    for name, version, arn in published:
        print(f"published {name} {version}: {arn}")
    return 0


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep:
            raise SystemExit(f"edgechat gg deploy: {what} must be NAME=VALUE, not {value!r}")
        out[name] = rest
    return out


def cmd_deploy(args: argparse.Namespace) -> int:
    import boto3

    from edgechat.greengrass.deploy import DeployError, built_versions, deploy, plan

    try:
        versions = _pairs(args.component or [], "--component") or built_versions(Path(args.out))
        merges = {name: json.loads(raw) for name, raw in _pairs(args.merge, "--merge").items()}
        resets: dict[str, list[str]] = {}
        for name, pointer in (v.split("=", 1) for v in args.reset):
            resets.setdefault(name, []).append(pointer)
        request = plan(args.target_arn, versions, merges=merges, resets=resets, name=args.name)
        client = boto3.Session(region_name=args.region).client("greengrassv2")
        deployment_id = deploy(client, request)
    except (DeployError, ValueError) as exc:
        print(f"edgechat gg deploy: {exc}", file=sys.stderr)
        return 2
    print(f"deployment {deployment_id} to {args.target_arn}")
    return 0
