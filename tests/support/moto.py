"""moto_server on a free loopback port, for tests of the cloud's AWS code."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.edge import free_port

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def running_moto(port: int | None = None) -> Iterator[str]:
    """moto_server on ``port`` (a free one when None: a test that simulates a
    link coming back starts it on the port a client already points at)."""
    port = port or free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **FAKE_ENV},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with running_moto() as url:
        yield url


def client(url: str, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=url,
        region_name=FAKE_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_ENV["AWS_SECRET_ACCESS_KEY"],
    )


def new_chat_table(url: str, name: str) -> Any:
    """A fresh DynamoDB table shaped as the template declares; returns the client."""
    from edgechat.cloud import template

    db = client(url, "dynamodb")
    db.create_table(**template.create_table_args(template.load(), "ChatTable", name))
    return db
