"""``edgechat labels PICTURE...``: each picture's labels as one JSON line.

For operators and scripts.  Offline models by default; ``--provider
rekognition`` uses boto3's default credentials and region.  Labels are cached
in ``<data-dir>/labeler/labels.db`` unless ``--no-cache``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgechat.core.errors import ChatError
from edgechat.labeler.cache import CachedProvider, LabelCache, picture_hash
from edgechat.labeler.labels import labels_to_json
from edgechat.labeler.provider import LabelProvider


def cache_path(data_dir: Path) -> Path:
    return data_dir / "labeler" / "labels.db"


def make_provider(name: str, min_confidence: float) -> LabelProvider:
    if name == "rekognition":
        import boto3

        from edgechat.labeler.rekognition import RekognitionProvider

        return RekognitionProvider(boto3.client("rekognition"), min_confidence=min_confidence)
    from edgechat.labeler.offline import OfflineProvider

    return OfflineProvider(min_confidence=min_confidence)


def cmd_labels(args: argparse.Namespace) -> int:
    from edgechat.settings import DEFAULT_DATA_DIR

    try:
        provider = make_provider(args.provider, args.min_confidence)
    except ChatError as exc:  # models missing or tampered
        print(f"edgechat: {exc.message}", file=sys.stderr)
        return 2
    cache = None
    if not args.no_cache:
        cache = LabelCache(cache_path(Path(args.data_dir) if args.data_dir else DEFAULT_DATA_DIR))
        provider = CachedProvider(provider, cache)
    failed = 0
    try:
        for name in args.pictures:
            out: dict[str, object] = {"picture": name}
            try:
                data = Path(name).read_bytes()
                out["sha256"] = picture_hash(data)
                out["Labels"] = labels_to_json(provider.detect_labels(data))
            except OSError as exc:
                out["error"] = {"code": "unreadable", "message": exc.strerror or str(exc)}
            except ChatError as exc:
                out["error"] = {"code": str(exc.code), "message": exc.message}
            if "error" in out:
                failed += 1
                print(f"edgechat: {name}: {out['error']['message']}", file=sys.stderr)  # type: ignore[index]
            print(json.dumps(out, indent=2 if args.pretty else None), flush=True)
    finally:
        if cache is not None:
            cache.close()
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("labels", help="print each picture's labels as JSON (offline models by default)")
    p.add_argument("pictures", nargs="+", metavar="PICTURE", help="JPEG, PNG or WebP files")
    p.add_argument("--provider", choices=["offline", "rekognition"], default="offline")
    p.add_argument("--min-confidence", type=float, default=50.0, help="0-100 (default 50)")
    p.add_argument("--data-dir", help="where the label cache lives (default var/edgechat)")
    p.add_argument("--no-cache", action="store_true", help="label again, don't read or write the cache")
    p.add_argument("--pretty", action="store_true", help="indented JSON")
    p.set_defaults(func=cmd_labels)
