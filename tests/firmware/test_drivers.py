"""Drivers are loaded when a configuration uses their type and dropped when none does: on the
real micropython, with the firmware compiled and installed as `microhome sim` installs it."""

import json
import os
import subprocess
from pathlib import Path

from microhome_tools import FIRMWARE_DIR
from microhome_tools.sim import install_firmware
from tests.firmware.harness import HEAPSIZE, MICROPYTHON

SCRIPT = Path(__file__).with_name("mp_drivers.py")


def test_heap_holds_the_drivers_in_use(tmp_path: Path) -> None:
    flash = tmp_path / "flash"
    install_firmware(flash)
    micropython = MICROPYTHON
    result = subprocess.run(
        [micropython, "-X", f"heapsize={HEAPSIZE}", str(SCRIPT)],
        env={
            **os.environ,
            "MICROPYPATH": f".frozen:{flash / 'a'}:{FIRMWARE_DIR / 'sim'}",
            "MICROHOME_PLATFORM": "rp2",
            "MICROHOME_STATE": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    heap = json.loads(result.stdout.strip().splitlines()[-1])
    print(json.dumps(heap))  # the figures docs/firmware.md states
    # At boot only the status LED's driver is loaded; the others when configured...
    assert heap["boot_drivers"] == ["home.sensors.status_led"]
    assert heap["all_drivers"] == [
        "home.sensors.dht22",
        "home.sensors.led",
        "home.sensors.motion",
        "home.sensors.status_led",
    ]
    # ...and dropped when the configuration no longer uses them, their memory given back.
    assert heap["removed_drivers"] == ["home.sensors.status_led"]
    assert heap["removed"] < heap["all"]
    # Adding and removing them again and again does not make the heap grow.
    assert heap["removed"] - heap["removed_first"] < 256
