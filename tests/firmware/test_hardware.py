"""The simulated hardware and the peripheral drivers on it: every chip model, driver read
path and fault, on the real micropython with the firmware compiled and installed as `microhome sim`
installs it (tests/firmware/mp_hardware.py holds the checks, one process per test)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from microhome_tools import FIRMWARE_DIR
from microhome_tools.sim import install_firmware, mpy_cross_binary
from tests.firmware.harness import HEAPSIZE

SCRIPT = Path(__file__).with_name("mp_hardware.py")
TESTS = re.findall(r"^async def (test_\w+)", SCRIPT.read_text(), re.MULTILINE)


@pytest.fixture(scope="module")
def flash(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The firmware installed once; the checks and the simulated hardware compiled beside it
    (a board has its buses in ROM, and in the node's heap their source would not compile)."""
    flash = tmp_path_factory.mktemp("flash")
    install_firmware(flash)
    compiler = mpy_cross_binary()
    assert compiler
    (flash / "sim").mkdir()
    for source in [SCRIPT, *sorted((FIRMWARE_DIR / "sim").glob("*.py"))]:
        target = flash / ("sim" if source.parent.name == "sim" else ".") / source.name
        subprocess.run(
            [compiler, "-o", str(target.with_suffix(".mpy")), str(source)], check=True, timeout=60
        )
    return flash


def run(flash: Path, state: Path, test: str, platform: str = "rp2") -> str:
    micropython = shutil.which("micropython")
    assert micropython
    state.mkdir(exist_ok=True)
    result = subprocess.run(
        [micropython, "-X", f"heapsize={HEAPSIZE}", "-m", "mp_hardware", test],
        cwd=state,
        env={
            **os.environ,
            "MICROPYPATH": f".frozen:{flash}:{flash / 'a'}:{flash / 'sim'}",
            "MICROHOME_PLATFORM": platform,
            "MICROHOME_STATE": str(state),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and f"ok {test}" in result.stdout, result.stdout + result.stderr
    return result.stdout


def test_every_check_is_run() -> None:
    assert len(TESTS) == len(set(TESTS)) >= 20


@pytest.mark.parametrize("test", TESTS)
def test_on_micropython(flash: Path, tmp_path: Path, test: str) -> None:
    run(flash, tmp_path / "state", test)


def test_esp32_nacks_with_enodev(flash: Path, tmp_path: Path) -> None:
    """A board's I2C reports a missing device as the port does: EIO on rp2, ENODEV on esp32."""
    run(flash, tmp_path / "state", "test_i2c_sim_scan_and_nack", "esp32")
