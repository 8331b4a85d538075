"""``edgechat bench labeler``: the Labeler's benchmark (edgechat.labeler.bench; docs/labeler.md).

Needs the ``labeler`` extra (the offline models)."""

from edgechat.labeler.bench import render, run

__all__ = ["render", "run"]
