"""The Web component: serves the browser app, its config and per-session broker
credentials (the edge's stand-in for Cognito), on the site's network."""

from edgechat.web.app import make_app
from edgechat.web.service import DEFAULT_DIST, WebService

__all__ = ["DEFAULT_DIST", "WebService", "make_app"]
