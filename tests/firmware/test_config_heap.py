"""The checks of a configuration in a small heap (docs/firmware.md, "Memory"): they run in two
phases never in the heap together (home/check.py with its tables, then home/pincheck.py with
the pins and the bus checks), so an air-quality node (SCD4x and AHT20 on I2C) accepts its
configuration at a board's small heap, and a bus configuration is checked with less free heap
than the two phases together would take. The real firmware, compiled as a board runs it, on
the real micropython; the node talks to a real mosquitto."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from microhome_tools import FIRMWARE_DIR
from microhome_tools.bench_heap import SIXTEEN
from microhome_tools.bench_node import AIR, bus_hardware
from microhome_tools.sim import install_firmware
from tests.firmware.conftest import NodeFactory, online
from tests.firmware.harness import BOARD_SIZED, MICROPYTHON, Observer, SimNode
from tests.firmware.test_buses import config

# A board heap at which the node runs the air-quality configuration every time without running
# out of memory at all (it runs from 60K, README "Measured"; at 64K its first readings or the
# burst after the answer may meet a MemoryError, which it survives).
AIR_HEAPSIZE = os.environ.get("MICROHOME_TEST_AIR_HEAPSIZE") or ("68K" if BOARD_SIZED else "124K")
# The protocol's largest configuration runs here without running out of memory at all (README
# "Measured": its smallest heap; at 64K the heap the new drivers leave is at times in pieces
# too small for the announce or a command, which are handled again a moment later).
SIXTEEN_HEAPSIZE = os.environ.get("MICROHOME_TEST_SIXTEEN_HEAPSIZE") or (
    "68K" if BOARD_SIZED else "112K"
)
# A board heap at which the checks of the air-quality configuration ran out of memory when both
# phases were in the heap together: the node answered nothing.
SMALL_HEAPSIZE = "64K" if BOARD_SIZED else "100K"

# Checks the configuration in the file argv[1] with only argv[2] bytes of the heap free (a
# ballast takes the rest) beside what a running node holds: prints "ok" and the errors, or
# "out of memory". (An argument longer than 255 bytes stops the unix port: hence the file.)
SCRIPT = """
import gc, json, sys
import home.log
from home.config import validate
with open(sys.argv[1]) as f:
    cfg = json.load(f)
want = int(sys.argv[2])
ballast = []
gc.collect()
while gc.mem_free() > want:
    size = gc.mem_free() - want
    while True:
        try:
            ballast.append(bytearray(size))
            break
        except MemoryError:  # the largest free block is smaller
            size //= 2
try:
    print("ok", json.dumps(validate(cfg)))
except MemoryError:
    print("out of memory")
"""
# The free heap the air-quality configuration's checks need beside a node's modules (32-bit
# build): 14.6 KB with both phases in the heap together, 10.2 KB in two phases.
FREE = 12_000


# A configuration of the air-quality node with a problem in each of its devices.
WRONG = [{**AIR[0], "address": 0x40}, {**AIR[1], "bus": {"sda": 4, "scl": 4}}]
WRONG_ERRORS = [
    "sensors[0].address: 64 is not one of 0x62",
    "sensors[1].bus.scl: 4 is not an SCL pin of I2C0 (SDA 4)",
]


def _answer(
    start_node: NodeFactory, observer: Observer, heap: str, sensors: list[dict[str, Any]]
) -> tuple[SimNode, Any]:
    """A node at heap with the air-quality chips, pushed sensors: the node and its answer."""
    node = start_node(extra=("--heapsize", heap))
    node.set_hw({}, **bus_hardware())
    online(observer, node)
    node.push_config(observer, config(sensors))
    return node, observer.wait_json(node.topic("config/state"))


def test_an_air_quality_node_accepts_its_configuration_at_a_small_heap(
    start_node: NodeFactory, observer: Observer
) -> None:
    node, state = _answer(start_node, observer, AIR_HEAPSIZE, AIR)
    assert state == {"version": 1, "ok": True, "errors": []}
    assert observer.wait_json(node.topic("state/air"), timeout=20)["co2"] == 812
    room = observer.wait_json(node.topic("state/room"), timeout=20)
    assert abs(room["temperature"] - 21.5) < 0.05
    assert "out of memory" not in node.console()
    assert "MemoryError" not in node.console()


def test_the_largest_configuration_runs_at_a_small_heap(
    start_node: NodeFactory, observer: Observer
) -> None:
    """Sixteen peripherals with 16-character ids, the protocol's maximum (8 motion sensors, 4
    DHT22s, 3 LEDs, the status LED), at its smallest board heap: applied, every one reports,
    the new configuration announced, a light command answered, telemetry goes on; no reboot,
    no reconnect, and the node never runs out of memory."""
    node = start_node(extra=("--heapsize", SIXTEEN_HEAPSIZE))
    readings = {str(8 + i): {"temperature": 20.5 + i, "humidity": 41.0} for i in range(4)}
    node.set_hw({**readings, "3": 1})
    online(observer, node)
    mark = observer.mark()
    body = {"version": 1, "name": "Sixteen", "telemetry_interval": 5, "log_level": "I"}
    node.push_config(observer, body | {"sensors": SIXTEEN})
    assert observer.wait_json(node.topic("config/state")) == {
        "version": 1,
        "ok": True,
        "errors": [],
    }
    states = {s["id"]: observer.wait_json(node.topic(f"state/{s['id']}")) for s in SIXTEEN}
    assert states["motion_sensor_03"] == {"motion": True}
    assert states["motion_sensor_04"] == {"motion": False}
    assert states["climate_sensor02"] == {"temperature": 22.5, "humidity": 41.0}
    assert observer.wait_json(node.topic("announce"), lambda a: a["cfg"] == 1, since=mark)
    since = observer.mark()
    n = node.command(observer, "set", id="led_light_num_02", on=True, brightness=100)
    assert node.reply(observer, n, since)["ok"] is True
    assert (
        observer.wait_json(node.topic("state/led_light_num_02"), since=since)["brightness"] == 100
    )
    assert observer.wait_json(node.topic("telemetry"), since=since, timeout=15)["cfg"] == 1
    assert observer.on(node.topic("status"), mark) == []  # no reboot, no reconnect
    assert "out of memory" not in node.console()


def test_a_refused_bus_configuration_is_answered_at_a_small_heap(
    start_node: NodeFactory, observer: Observer
) -> None:
    node, state = _answer(start_node, observer, SMALL_HEAPSIZE, WRONG)
    assert state == {"version": 1, "ok": False, "errors": WRONG_ERRORS}
    assert "out of memory" not in node.console()


def _checked(tmp_path: Path, sensors: list[dict[str, Any]], free: int) -> str:
    flash = tmp_path / "flash"
    if not flash.exists():
        install_firmware(flash)
    env = {
        **os.environ,
        "MICROPYPATH": f".frozen:{flash / 'a'}:{FIRMWARE_DIR / 'sim'}",
        "MICROHOME_PLATFORM": "rp2",
        "MICROHOME_STATE": str(tmp_path),
    }
    script = tmp_path / "check_in_heap.py"
    script.write_text(SCRIPT)
    body = tmp_path / "config.json"
    body.write_text(json.dumps({**config(sensors), "n": 1}))
    result = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=64K", str(script), str(body), str(free)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_a_bus_configuration_is_checked_with_less_free_heap_than_both_phases_take(
    tmp_path: Path,
) -> None:
    assert _checked(tmp_path, AIR, FREE) == "ok []"
    assert _checked(tmp_path, WRONG, FREE) == "ok " + json.dumps(WRONG_ERRORS)
    # a heap too small for the checks is still too small: the figure is not a stand-in
    assert _checked(tmp_path, AIR, 4000) == "out of memory"
