"""The three Lambda handlers the tag-cloud state machine calls (asl.py).

Thin: JSON in, a pipeline step, JSON out.  The cloud template deploys them;
the tests call them in-process (moto can't run Lambda without Docker).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgechat.labeler.pipeline import HtmlParams, Labelled, Tally, count, render_html
from edgechat.labeler.rekognition import RekognitionProvider


def count_handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    """``{"input": [{"picture", "Labels"}...]}`` -> a Tally as JSON."""
    return count(map(Labelled.from_json, event["input"])).to_json()


def render_handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
    """``{"input": tally, "params": {...}}`` -> ``{"html": fragment}``."""
    params = HtmlParams.from_json(event.get("params") or {})
    return {"html": render_html(Tally.from_json(event["input"]), params)}


def make_get_labels_handler(s3: Any, rekognition: Any) -> Callable[[dict[str, Any], object], dict[str, Any]]:
    """``{"picture": {"bucket", "key"}}`` -> ``{"picture": key, "Labels": [...]}``.
    Clients are made once per cold start by the caller and injected."""
    provider = RekognitionProvider(rekognition)

    def handler(event: dict[str, Any], context: object = None) -> dict[str, Any]:
        ref = event["picture"]
        body = s3.get_object(Bucket=ref["bucket"], Key=ref["key"])["Body"].read()
        return Labelled(ref["key"], provider.detect_labels(body)).to_json()

    return handler
