"""Fault injection for tests and benchmarks (docs/sync.md, "Guarantee and how it
is tested"): a controllable TCP proxy on the link between a site and the cloud,
kill -9 / restart of processes, and the history checker that judges the result."""

from edgechat.faults.history import Anomaly, Report, by_order_key, check
from edgechat.faults.process import kill9, wait_gone
from edgechat.faults.proxy import LinkProxy, LinkState

__all__ = ["Anomaly", "LinkProxy", "LinkState", "Report", "by_order_key", "check", "kill9", "wait_gone"]
