"""The Labeler: picture labels (offline models or Rekognition), the tag-cloud
pipeline, its Step Functions form, and picture intake (docs/labeler.md).

The heavy dependencies (numpy, OpenCV, LiteRT, the models) are the ``labeler``
extra and are imported only by ``offline``; everything else runs without them.
"""

from edgechat.labeler.labels import BoundingBox, Instance, Label, Labels
from edgechat.labeler.pipeline import HtmlParams, Labelled, Tally, count, render_html, tag_cloud
from edgechat.labeler.provider import LabelProvider

__all__ = [
    "BoundingBox",
    "HtmlParams",
    "Instance",
    "Label",
    "LabelProvider",
    "Labelled",
    "Labels",
    "Tally",
    "count",
    "render_html",
    "tag_cloud",
]
