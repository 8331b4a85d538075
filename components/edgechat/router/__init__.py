"""The Router component: chat rules over MQTT, with the message store in-process
(a message is stored before it is announced, so the two share a process)."""

from edgechat.router.service import RouterLimits, RouterService, RouterStats

__all__ = ["RouterLimits", "RouterService", "RouterStats"]
