"""README's "Measured" comparison is the one the bench writes from benchmarks/results.json."""

import json
from argparse import Namespace
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


def test_a_partial_run_keeps_the_other_parts_figures(tmp_path: Path) -> None:
    """`microhome bench --only scale` rewrites the scale figures and keeps every other part
    of the results.json it writes over, naming the run each came from."""
    full = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    parts = [part for part in bench_report.PARTS if part in full]
    results = {part: full[part] for part in parts}
    bench_report.write(Namespace(out=tmp_path), parts, results, full["machine"])
    first = json.loads((tmp_path / "results.json").read_text())
    scale = {"200": {"microhome": {"add_seconds": 1.5}, "peer": {"add_seconds": 1.25}}}
    bench_report.write(Namespace(out=tmp_path), ["scale"], {"scale": scale}, full["machine"])
    second = json.loads((tmp_path / "results.json").read_text())
    assert second["scale"] == scale
    assert second["parts"] == ["scale"]
    kept = [part for part in parts if part != "scale"]
    assert kept
    for part in kept:
        assert second[part] == full[part]
        assert second["earlier_runs"][part] == {
            "date": first["date"],
            "command": first["command"],
        }
    markdown = (tmp_path / "RESULTS.md").read_text()
    names = ", ".join(kept[:-1]) + " and " + kept[-1] if len(kept) > 1 else kept[0]
    assert f"The {names} part" in markdown
    assert f"from an earlier run ({first['date']}; this run did not measure them)" in markdown
    assert f"`{first['command']}`" in bench_report.measured_table(second)
    assert f"{kept[-1]} parts are" in markdown or f"{kept[0]} part is" in markdown
    # A third partial run still names the run that measured them, not the one in between.
    bench_report.write(Namespace(out=tmp_path), ["scale"], {"scale": scale}, full["machine"])
    third = json.loads((tmp_path / "results.json").read_text())
    assert third["earlier_runs"] == second["earlier_runs"]


def test_a_damaged_results_json_is_written_over(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text("{not json")
    machine = json.loads((ROOT / "benchmarks" / "results.json").read_text())["machine"]
    bench_report.write(Namespace(out=tmp_path), ["bundle"], {"bundle": {"modules": 1}}, machine)
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["bundle"] == {"modules": 1}
    assert "earlier_runs" not in written


def test_a_heap_run_of_one_build_keeps_the_other_builds_figures(tmp_path: Path) -> None:
    """`microhome bench --only heap --micropython X` measures one build: the other build's
    smallest heaps stay, and README shows both."""
    full = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    bench_report.write(Namespace(out=tmp_path), ["heap"], {"heap": full["heap"]}, full["machine"])
    again = {"64": {**full["heap"]["64"], "4 sensors running": "200K"}}
    bench_report.write(Namespace(out=tmp_path), ["heap"], {"heap": again}, full["machine"])
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["heap"]["32"] == full["heap"]["32"]
    assert written["heap"]["64"]["4 sensors running"] == "200K"
    rows = [row[0] for row in bench_report.measured_rows(written)]
    assert "smallest board heap, 32-bit build: 4 sensors running" in rows
    assert "smallest board heap, 64-bit build: 4 sensors running" in rows
    # a results.json from before, with one build's figures flat, is read as that build's
    flat = {"micropython": "m", "bits": 32, "4 sensors running": "72K"}
    assert bench_report.heap_by_bits(flat) == {"32": flat}
