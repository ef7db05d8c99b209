"""The simulated hardware and the peripheral drivers on it: every chip model, driver read
path and fault, on the real micropython with the firmware compiled and installed as `microhome sim`
installs it (tests/firmware/mp_hardware.py holds the checks, one process per test)."""

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from microhome_tools import FIRMWARE_DIR
from microhome_tools.sim import BOARD_RESERVE, heap_bytes, install_firmware, mpy_cross_binary
from tests.firmware.harness import HEAPSIZE, MICROPYTHON

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


def micropython(flash: Path, state: Path, args: list[str], platform: str = "rp2") -> str:
    """Run micropython on the installed firmware and the compiled sim, in the node's heap plus
    the board model's reserve for the simulated hardware (a board has it in ROM); its output,
    or fail with it."""
    binary = MICROPYTHON
    state.mkdir(exist_ok=True)
    heap = heap_bytes(HEAPSIZE) + BOARD_RESERVE
    result = subprocess.run(
        [binary, "-X", f"heapsize={heap}", *args],
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
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def run(flash: Path, state: Path, test: str, platform: str = "rp2") -> None:
    output = micropython(flash, state, ["-m", "mp_hardware", test], platform)
    assert f"ok {test}" in output, output


def test_every_check_is_run() -> None:
    assert len(TESTS) == len(set(TESTS)) >= 20


@pytest.mark.parametrize("test", TESTS)
def test_on_micropython(flash: Path, tmp_path: Path, test: str) -> None:
    run(flash, tmp_path / "state", test)


def test_esp32_nacks_with_enodev(flash: Path, tmp_path: Path) -> None:
    """A board's I2C reports a missing device as the port does: EIO on rp2, ENODEV on esp32."""
    run(flash, tmp_path / "state", "test_i2c_sim_scan_and_nack", "esp32")


def test_esp32_pins_are_static(flash: Path, tmp_path: Path) -> None:
    """An esp32's pins (GPIO 0-39) are made with its hardware as rp2's are."""
    run(flash, tmp_path / "state", "test_pins_and_pwms_are_static", "esp32")


HEAP_SCRIPT = Path(__file__).with_name("mp_heap.py")
# one value's filters as home/config.py completes them: a median of 5, calibrated, delta, heartbeat
FILTER_SETTINGS = {
    "window": 5,
    "average": "median",
    "raw1": 0,
    "ref1": 0.5,
    "raw2": 100,
    "ref2": 99,
    "offset": 0,
    "delta": 0.2,
    "heartbeat": 300,
}
I2C_BUS = {"sda": 4, "scl": 5, "freq": 100000}
SHARED = "+home.poll,home.bus:"
# (what is imported, a spec for one peripheral); the modules before ":" are loaded first
HEAP_ROWS: list[tuple[str, dict[str, Any] | None]] = [
    ("home.poll", None),
    ("+home.poll:home.bus", None),
    *(
        (f"{SHARED}home.sensors.{kind}", {"id": "x", "type": kind, "bus": I2C_BUS, "interval": 30})
        for kind in ("aht20", "sht3x", "sht4x", "bme280", "bh1750", "scd4x")
    ),
    ("home.sensors.aht20", {"id": "x", "type": "aht20", "bus": I2C_BUS, "interval": 30}),
    (
        "+home.poll:home.sensors.ds18b20",
        {"id": "x", "type": "ds18b20", "pin": 22, "rom": "28ff641e8216015e", "interval": 30},
    ),
    (
        "+home.poll:home.sensors.adc",
        {
            "id": "x",
            "type": "adc",
            "pin": 26,
            "interval": 30,
            "volts1": 0.5,
            "value1": 0,
            "volts2": 2.5,
            "value2": 10,
        },
    ),
    (
        "home.sensors.binary_input",
        {"id": "x", "type": "binary_input", "pin": 9, "pull": "up", "events": True},
    ),
    ("home.sensors.pwm_output", {"id": "x", "type": "pwm_output", "pin": 14, "freq": 1000}),
    ("home.sensors.relay", {"id": "x", "type": "relay", "pin": 14, "inverted": 0, "max_on": 60}),
    ("home.filter", {"temperature": FILTER_SETTINGS}),
    ("+home.poll:home.sensors.dht22", {"id": "x", "type": "dht22", "pin": 14, "interval": 30}),
    ("home.sensors.dht22", {"id": "x", "type": "dht22", "pin": 14, "interval": 30}),
    ("home.sensors.motion", {"id": "x", "type": "motion", "pin": 14, "off_delay": 30}),
]


def test_driver_heap(flash: Path, tmp_path: Path) -> None:
    """What each driver module costs in the heap when imported, and one peripheral of it
    (the figures docs/firmware.md states)."""
    rows = []
    for module, spec in HEAP_ROWS:
        args = [str(HEAP_SCRIPT), module, *([json.dumps(spec)] if spec else [])]
        output = micropython(flash, tmp_path / "state", args)
        rows.append(json.loads(output.strip().splitlines()[-1]))
    print(json.dumps(rows, indent=1))
    poll, i2c_bus, aht20 = rows[:3]
    first_i2c = rows[8]
    assert first_i2c["module"] == aht20["module"]
    # the first I2C device of a node brings the shared modules, and nothing else
    assert first_i2c["import"] <= poll["import"] + i2c_bus["import"] + aht20["import"] + 512
    for row in rows:
        # a driver costs its code and names, a few KB on this 64-bit port; a peripheral its
        # object and preallocated buffers
        assert 0 < row["import"] < 6000 or row is first_i2c, row
        assert row["instance"] is None or 0 < row["another"] <= row["instance"] < 1500, row
