"""Every part of `microhome bench` runs, with tiny sample counts, and reports both sides.

No timing assertions: speed is what the bench reports, not what a test decides.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BOTH_SIDES = ("microhome", "peer")
SUMMARY = ("p50", "p95", "p99", "max", "samples")
COMPARED = (
    "state_to_ha_ms",
    "light_round_trip_standin_ms",
    "light_round_trip_firmware_ms",
    "pin_edge_to_ha_ms",
)
SCALE_FIGURES = ("add_seconds", "memory_per_node_kb", "states_sent", "states_dropped")
SCALE_SUMMARIES = ("loop_lag_adding_ms", "state_held_back_ms", "loop_lag_running_ms")


def bench(tmp_path: Path, *args: str) -> None:
    """`microhome bench ARGS` from a directory outside the checkout; it must succeed."""
    result = subprocess.run(
        [sys.executable, "-m", "microhome_tools.cli", "bench", *args],
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tools"), "MICROHOME_ROOT": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=360,
    )
    assert result.returncode == 0, result.stderr[-4000:]


def test_every_bench_part_reports_every_figure_for_both_sides(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks"
    bench(
        tmp_path,
        *("--samples", "2", "--nodes", "2", "--nodes", "3", "--state-rounds", "1"),
        *("--log-seconds", "0.5", "--log-nodes", "2", "--ota-rounds", "1", "--ota-nodes", "2"),
        *("--out", str(out)),
    )
    results = json.loads((out / "results.json").read_text())
    assert results["machine"]["cores"] >= 1
    assert results["date"] and results["command"].startswith("scripts/env microhome bench")

    for figure in COMPARED:
        for side in BOTH_SIDES:
            summary = results["compare"][figure][side]
            assert set(SUMMARY) <= summary.keys(), (figure, side, summary)
            assert summary["samples"] == 2
            assert summary["p50"] > 0
        assert results["compare"][figure]["ratio"]["p50"] > 0

    assert set(results["scale"]) == {"2", "3"}
    for count, added in (("2", 2), ("3", 1)):
        for side in BOTH_SIDES:
            tier = results["scale"][count][side]
            assert tier["added"] == added
            assert set(SCALE_FIGURES) <= tier.keys()
            assert tier["states_sent"] == int(count)
            for figure in SCALE_SUMMARIES:
                assert tier[figure]["samples"] > 0, (count, side, figure)

    assert results["logs"]["entries_ingested"] > 0
    assert results["firmware"]["light_command_to_echo_ms"]["samples"] == 2
    assert results["bundle"]["modules"] > 0

    ota = results["ota"]
    assert "error" not in ota, ota["error"]
    for part, updates in (("one_node", 1), ("fleet", 2)):
        assert ota[part]["updates"] == updates
        assert ota[part]["failed"] == 0, ota[part]["failures"]
        assert ota[part]["update_s"]["samples"] == updates
        for phase, _ in ota["phases"]:
            assert ota[part]["phases_s"][phase]["samples"] == updates, (part, phase)
    assert ota["fleet"]["all_confirmed_s"]["samples"] == 1

    report = (out / "RESULTS.md").read_text()
    for heading in ("## Latency", "### 2 nodes", "### 3 nodes", "## Log ingestion", "## OTA"):
        assert heading in report
    assert "node state message → HA state" in report


def test_profile_reports_stalls_memory_and_time_for_both_sides(tmp_path: Path) -> None:
    """`bench --profile` runs each of its parts on both sides and reports what each finds."""
    report = tmp_path / "profile.txt"
    bench(tmp_path, "--only", "scale", "--nodes", "2", "--profile", str(report))
    text = report.read_text()
    for part in ("stalls", "memory", "time (under cProfile)"):
        for side in BOTH_SIDES:
            assert f"## {part}, {side}: 2 nodes added in" in text, (part, side)
    assert text.count(", 0 not live then") == 6
    assert "Garbage collections while adding, by generation" in text
    assert "Python allocations still alive after adding" in text
    assert "object types that garbage collection tracks" in text
    assert "config_entries_microhome: 2 (1.00 per node)" in text
    assert "entities_mqtt: 10 (5.00 per node)" in text
    for side in BOTH_SIDES:
        assert (tmp_path / f"profile.{side}.pstats").stat().st_size > 0
