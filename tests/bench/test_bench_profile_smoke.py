"""`microhome bench --profile` runs each of its parts on both sides and reports what each finds.

No timing assertions: what the profile finds is for reading, not for a test to decide.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_profile_reports_stalls_memory_and_time_for_both_sides(tmp_path: Path) -> None:
    report = tmp_path / "profile.txt"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "microhome_tools.cli",
            "bench",
            "--only",
            "scale",
            "--nodes",
            "2",
            "--profile",
            str(report),
        ],
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tools"), "MICROHOME_ROOT": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    text = report.read_text()
    for part in ("stalls", "memory", "time (under cProfile)"):
        for side in ("microhome", "peer"):
            assert f"## {part}, {side}: 2 nodes added in" in text, (part, side)
    assert text.count(", 0 not live then") == 6
    assert "Garbage collections while adding, by generation" in text
    assert "Python allocations still alive after adding" in text
    assert "object types that garbage collection tracks" in text
    assert "config_entries_microhome: 2 (1.00 per node)" in text
    assert "entities_mqtt: 10 (5.00 per node)" in text
    for side in ("microhome", "peer"):
        assert (tmp_path / f"profile.{side}.pstats").stat().st_size > 0
