"""The performance benchmark suite (``edgechat bench``; docs/performance.md).

Each scenario is a module (``-`` in its name is ``_`` in the module's name) with
``run(work_dir, quick) -> dict`` and
``render(result) -> str``; the runner writes ``<out>/<scenario>.json``."""

SCENARIOS = (
    "startup", "store", "latency", "fanout", "connections", "memory", "labeler", "stream", "sync-drain",
    "lifecycle", "router-cpu", "labeler-cost", "sync-pictures",
)  # fmt: skip
# Too long for `all` (30 minutes): run on their own.
LONG_SCENARIOS = ("soak",)
