"""Each benchmark scenario in --quick mode: it runs end to end against a real
edgechat and writes results of the expected shape.  No timing thresholds: the
numbers belong in docs/performance.md, not in CI."""

import json

import pytest

from edgechat.bench import LONG_SCENARIOS, SCENARIOS
from edgechat.bench.cli import run_scenario

pytestmark = pytest.mark.integration


def _ms(summary, n_min=1):
    assert summary["n"] >= n_min
    assert 0 < summary["p50"] <= summary["p99"] <= summary["p999"] <= summary["max"]


def check_startup(r):
    assert len(r["freshS"]) == len(r["againS"]) == 1
    assert all(0 < s < 60 for s in r["freshS"] + r["againS"])


def check_store(r):
    assert {i["synchronous"] for i in r["inserts"]} == {"FULL", "NORMAL"}
    assert all(i["inserted"] > 0 and i["perS"] > 0 for i in r["inserts"])
    assert [h["stored"] for h in r["history"]] == list(r["config"]["sizes"])
    for h in r["history"]:
        _ms(h["pageMs"], h["queries"])


def check_latency(r):
    for mode in ("raw", "edgechat"):
        assert r[mode]["sent"] > 0
        assert r[mode]["deliveredFraction"] == 1.0
        _ms(r[mode]["deliveryMs"])
    _ms(r["edgechat"]["ackMs"], r["edgechat"]["sent"])
    assert set(r["met"]) == {"deliveryP99", "ackP99"}


def check_fanout(r):
    assert set(r["steps"]) == {"raw", "edgechat"}
    for steps in r["steps"].values():
        assert steps, "every mode runs at least its first step"
        first = steps[0]
        assert first["sent"] > 0 and first["deliveredFraction"] == 1.0
        _ms(first["latencyMs"])
    assert set(r["maxSustainable"]) == {"raw", "edgechat"}


def check_connections(r):
    clients = [p["clients"] for p in r["points"]]
    assert clients == sorted(clients) and clients[-1] == 20
    assert r["points"][-1]["rss"]["mosquitto"] > 0
    _ms(r["connectMs"], 20)


def check_memory(r):
    for key in ("emptyStore", "fullStore"):
        for state in ("idle", "connected", "underLoadPeak"):
            mb = r[key][state]
            assert 0 < mb["mosquitto"] < mb["total"]
        assert r[key]["sent"] > 0


def check_labeler(r):
    assert r["pictures"] == 8 and r["uncachedPicturesPerS"] > 0
    assert r["cache"] == {"hits": 40, "misses": 8}  # each picture labelled once, then 5 cached reads
    assert 0 < r["cachedMs"]["p50"] <= r["cachedMs"]["p95"]
    assert 0 < r["memoryMiB"]["beforeModels"] < r["memoryMiB"]["modelsLoaded"] <= r["memoryMiB"]["peak"]


def check_stream(r):
    for rnd in r["rounds"]:
        assert rnd["raw"]["received"] == rnd["raw"]["events"] > 0
        assert rnd["stream"]["received"] == rnd["stream"]["events"]  # every event in an aggregate, once
        assert rnd["stream"]["aggregatesCorrect"] is True
        assert rnd["ratio"] > 0
    assert r["aggregatesCorrect"] is True


def check_sync_drain(r):
    n = r["config"]["messages"]
    assert r["drain"]["messages"] == r["direct"]["messages"] == n
    assert 0 < r["drain"]["firstAfterS"] <= r["drain"]["seconds"] <= r["drain"]["outboxEmptyS"]
    assert r["drain"]["perS"] > 0 and r["direct"]["perS"] > 0 and r["ratio"] > 0
    live = r["live"]
    assert live["perS"] > 0 and {"up", "sync", "broker"} <= set(live["cpuMsPerMsg"])
    # Sync hears the Router's notices and answers, never the room broadcasts
    assert set(live["syncLocalEvents"]) <= {"edgechat/sync/outbox", "edgechat/sync/stored"}


def check_lifecycle(r):
    assert all(v > 0 for v in r["insertsPerS"].values()) and r["insertRatioOnOff"] > 0
    _ms(r["editMs"], 10)
    _ms(r["deleteMs"], 10)
    assert r["deleteOverEditP50"] > 0


def check_router_cpu(r):
    [step] = r["steps"]
    assert step["stored"] >= step["sent"] > 0 and step["batches"] > 0
    assert step["deliveredFraction"] == 1.0
    assert step["routerCpuMsPerMessage"] > 0


def check_labeler_cost(r):
    assert set(r["median"]) >= {"off", "on"}
    for name, steps in r["runs"].items():
        assert steps, name
        assert all(s["deliveredFraction"] == 1.0 and s["stored"] >= s["sent"] > 0 for s in steps), name
        assert r["median"][name] > 0


def check_sync_pictures(r):
    n = r["config"]["pictures"]
    assert n > 0 and r["bare"]["perS"] > 0 and r["sync"]["perS"] > 0 and r["ratio"] > 0


def check_soak(r):
    assert len(r["samples"]) == r["config"]["steps"] and r["sent"] > 0
    assert r["lost"] == 0 and r["routerErrors"] == 0 and r["acked"] == r["sent"]
    assert r["churn"]["cycles"] > 0 and r["churn"]["failures"] == 0
    assert all(s["rssMiB"] > 0 for s in r["samples"]) and set(r["met"]) == {"memoryFlat"}


CHECKS = {name: globals()[f"check_{name.replace('-', '_')}"] for name in (*SCENARIOS, *LONG_SCENARIOS)}


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-results")


@pytest.mark.parametrize("scenario", (*SCENARIOS, *LONG_SCENARIOS))
def test_quick_scenario(scenario, out_dir):
    path = run_scenario(scenario, out_dir, quick=True)
    result = json.loads(path.read_text())
    assert result["scenario"] == scenario and result["quick"] is True
    assert result["machine"]["nproc"] >= 1
    CHECKS[scenario](result)


def test_plots_from_results(out_dir):
    pytest.importorskip("matplotlib")
    from edgechat.bench import plots

    for name in ("store", "fanout"):  # made above unless this test runs alone
        if not (out_dir / f"{name}.json").exists():
            run_scenario(name, out_dir, quick=True)
    made = plots.draw(out_dir)
    assert [p.name for p in made] == ["latency-vs-load.png", "cost-vs-scale.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in made)
