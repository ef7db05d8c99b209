"""The log bench loads the integration from the checkout, whatever the working directory."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SMALL_RUN = (
    "from microhome_tools.bench_logs import measure_log_ingestion; "
    "print(measure_log_ingestion(nodes=2, entries_per_second=200, seconds=0.3).entries_ingested)"
)


def run_python(
    code: str, cwd: Path, pythonpath: Path, root: str | None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MICROHOME_ROOT", "PYTHONPATH")}
    env["PYTHONPATH"] = str(pythonpath)
    if root is not None:
        env["MICROHOME_ROOT"] = root
    return subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_log_bench_runs_from_another_directory(tmp_path: Path) -> None:
    result = run_python(SMALL_RUN, tmp_path, ROOT / "tools", None)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 0


def test_installed_tools_find_the_checkout_through_microhome_root(tmp_path: Path) -> None:
    """Tools copied elsewhere (as pip installs them) use MICROHOME_ROOT, as scripts/env sets."""
    shutil.copytree(ROOT / "tools" / "microhome_tools", tmp_path / "site" / "microhome_tools")
    result = run_python(SMALL_RUN, tmp_path, tmp_path / "site", str(ROOT))
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 0


def test_without_a_checkout_it_says_what_is_missing(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "tools" / "microhome_tools", tmp_path / "site" / "microhome_tools")
    result = run_python(
        "from microhome_tools.cli import main; raise SystemExit(main(['bench', '--only', 'logs']))",
        tmp_path,
        tmp_path / "site",
        str(tmp_path / "not-a-checkout"),
    )
    assert result.returncode == 2
    assert "custom_components/microhome" in result.stderr
    assert "MICROHOME_ROOT" in result.stderr
    assert "Traceback" not in result.stderr
