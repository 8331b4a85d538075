"""Fault injection for tests and benchmarks (docs/sync.md, "Guarantee and how it
is tested"): a controllable TCP proxy on the link between a site and the cloud,
and kill -9 / restart of processes."""

from edgechat.faults.process import kill9, wait_gone
from edgechat.faults.proxy import LinkProxy, LinkState

__all__ = ["LinkProxy", "LinkState", "kill9", "wait_gone"]
