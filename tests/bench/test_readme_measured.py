"""README's "Measured" comparison is the one the bench writes from benchmarks/results.json."""

import json
from pathlib import Path

import pytest

from microhome_tools import bench_report

ROOT = Path(__file__).resolve().parents[2]


def test_readme_shows_the_figures_of_results_json() -> None:
    document = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    readme = (ROOT / "README.md").read_text()
    assert bench_report.with_measured(readme, document) == readme, (
        "README's measured block is not the one benchmarks/results.json makes: run "
        "`scripts/env microhome bench` (or rewrite the block with bench_report.with_measured)"
    )
    # Every compared figure is in it, with the peer's beside it.
    for row in bench_report.measured_rows(document):
        assert "| " + " | ".join(row) + " |" in readme


def test_a_target_missed_is_shown_as_missed() -> None:
    document = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    slow = {"p50": 40.0, "p95": 60.0, "max": 70.0, "samples": 3}
    fast = {"p50": 2.0, "p95": 3.0, "max": 4.0, "samples": 3}
    document["compare"] = {"light_round_trip_firmware_ms": {"microhome": slow, "peer": fast}}
    rows = bench_report.measured_rows(document)
    assert rows[0][1:] == ["40", "2", "20.00x", "< 10, ≤ 3x peer", "**no**"]
    document["compare"]["light_round_trip_firmware_ms"]["microhome"] = fast
    assert bench_report.measured_rows(document)[0][-1] == "yes"


def test_a_readme_without_the_block_is_refused() -> None:
    document = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    with pytest.raises(ValueError, match="measured"):
        bench_report.with_measured("# README\n", document)
