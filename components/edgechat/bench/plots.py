"""PNG plots from the JSON results in a results folder (needs matplotlib, the
``bench`` extra): latency against load, and cost against scale."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on an edge box or in CI
import matplotlib.pyplot as plt


def _load(out_dir: Path, name: str) -> dict[str, Any] | None:
    path = out_dir / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def latency_vs_load(fanout: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    styles = {"raw": ("tab:gray", "raw Mosquitto"), "edgechat": ("tab:blue", "edgechat")}
    for mode, steps in fanout["steps"].items():
        color, label = styles[mode]
        x = [s["offered"] for s in steps]
        for pct, line in (("p50", ":"), ("p99", "-"), ("p999", "--")):
            y = [s["latencyMs"][pct] for s in steps]
            ax.plot(x, y, line, color=color, marker="o", ms=3, label=f"{label} {pct}")
    ax.axhline(fanout["p99LimitMs"], color="tab:red", lw=0.8, label="p99 limit")
    cfg = fanout["config"]
    ax.set(
        xlabel="offered load (messages published per second)",
        ylabel="publish → delivery latency (ms)",
        yscale="log",
        title=f"fan-out: {cfg['rooms']} rooms x {cfg['subs_per_room']} subscribers, QoS 1",
    )
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def cost_vs_scale(results: dict[str, dict[str, Any] | None], path: Path) -> Path:
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    conn, store, fanout = results.get("connections"), results.get("store"), results.get("fanout")
    if conn:
        x = [p["clients"] for p in conn["points"]]
        for name in ("mosquitto", "python3", "total"):
            y = [p["rss"].get(name, 0) / 2**20 for p in conn["points"]]
            axes[0].plot(x, y, marker="o", ms=3, label="edgechat services" if name == "python3" else name)
        axes[0].set(xlabel="connected clients", ylabel="resident memory (MB)", title="memory vs clients")
        axes[0].legend(fontsize=7)
    if store:
        x = [h["stored"] for h in store["history"]]
        for pct in ("p50", "p99", "p999"):
            axes[1].plot(x, [h["pageMs"][pct] for h in store["history"]], marker="o", ms=3, label=pct)
        axes[1].set(xscale="log", xlabel="stored messages", ylabel="ms", title="history page (50) vs stored")
        axes[1].legend(fontsize=7)
    if fanout:
        for mode, steps in fanout["steps"].items():
            x = [s["offered"] for s in steps]
            # CPU of broker + services per 1,000 messages sent: the cost of each message.
            y = [1000 * s["cpuS"].get("total", 0) / max(s["sent"], 1) for s in steps]
            axes[2].plot(x, y, marker="o", ms=3, label=mode)
        axes[2].set(xlabel="offered load (msg/s)", ylabel="CPU s per 1,000 messages", title="CPU per message")
        axes[2].legend(fontsize=7)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw(out_dir: Path) -> list[Path]:
    made = []
    results = {n: _load(out_dir, n) for n in ("fanout", "connections", "store")}
    if results["fanout"]:
        made.append(latency_vs_load(results["fanout"], out_dir / "latency-vs-load.png"))
    if any(results.values()):
        made.append(cost_vs_scale(results, out_dir / "cost-vs-scale.png"))
    return made
