"""labeler-cost's fit: CPU per message with the commits' share taken out."""

from edgechat.bench.labeler_cost import net_of_commits


def step(stored: int, commits: int, cpu_s: float) -> dict:
    return {"stored": stored, "batches": commits, "cpuS": {"python3:1": cpu_s, "mosquitto:2": 9.0}}


def test_the_fit_recovers_per_message_and_per_commit_costs() -> None:
    # 0.3 ms per message off, 0.5 on, 1.2 ms per commit: commits vary round to round.
    runs = {
        name: [step(5000, c, (a * 5000 + 1.2 * c) / 1000) for c in (200, 900, 3000)]
        for name, a in (("off", 0.3), ("on", 0.5))
    }
    net, per_commit = net_of_commits(runs)
    assert per_commit == 1.2 and net == {"off": 0.3, "on": 0.5}


def test_one_round_each_cannot_separate_commits() -> None:
    net, per_commit = net_of_commits({"off": [step(50, 40, 0.1)], "on": [step(50, 45, 0.1)]})
    assert per_commit is None and net == {"off": None, "on": None}
