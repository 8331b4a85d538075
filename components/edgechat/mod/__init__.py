"""Moderation from scripts: ``edgechat mod ...`` and ``edgechat rooms``."""
