"""Bus peripherals on a whole node (real micropython, real mosquitto, simulated I2C and 1-Wire):
the heat exchanger's four probes and an air-quality I2C bus configured at run time, the signed
`scan` command, a probe that vanishes, and bus configurations refused with their field paths."""

import os
from typing import Any

import pytest

from microhome_tools.bench_node import AIR, BUS, PROBES, ROMS, TEMPERATURES
from microhome_tools.bench_node import bus_hardware as hardware
from tests.firmware.conftest import NodeFactory, online
from tests.firmware.harness import BOARD_SIZED, Observer, SimNode

# A board's heap for both bus nodes in one configuration, with refused ones and scans.
BUS_HEAPSIZE = os.environ.get("MICROHOME_TEST_BUS_HEAPSIZE") or ("88K" if BOARD_SIZED else "124K")


def config(sensors: list[dict[str, Any]], version: int = 1) -> dict[str, Any]:
    return {
        "version": version,
        "name": "Cellar",
        "telemetry_interval": 60,
        "log_level": "I",
        "sensors": sensors,
    }


@pytest.fixture
def cellar(start_node: NodeFactory, observer: Observer) -> SimNode:
    node = start_node(extra=("--heapsize", BUS_HEAPSIZE))
    node.set_hw({}, **hardware())
    online(observer, node)
    node.push_config(observer, config([*PROBES, *AIR]))
    assert observer.wait_json(node.topic("config/state")) == {
        "version": 1,
        "ok": True,
        "errors": [],
    }
    return node


def test_heat_exchanger_and_air_quality_report(cellar: SimNode, observer: Observer) -> None:
    node = cellar
    for probe, temperature in zip(PROBES, TEMPERATURES, strict=True):
        assert observer.wait_json(node.topic(f"state/{probe['id']}")) == {
            "temperature": temperature
        }
    room = observer.wait_json(node.topic("state/room"))
    assert abs(room["temperature"] - 21.5) < 0.05 and abs(room["humidity"] - 40) < 0.05
    air = observer.wait_json(node.topic("state/air"), timeout=20)  # a measurement every 5 s
    assert air["co2"] == 812 and abs(air["temperature"] - 22.5) < 0.05


def test_probe_that_vanishes_reports_an_error_and_the_others_go_on(
    cellar: SimNode, observer: Observer
) -> None:
    node = cellar
    observer.wait_json(node.topic("state/t3"))
    node.set_hw({}, **hardware(absent=2))
    mark = observer.mark()
    error = observer.wait_json(node.topic("state/t3"), lambda s: "error" in s, 20, mark)
    assert error == {"error": f"no answer from {ROMS[2]}"}
    later = observer.mark()
    assert observer.wait_json(node.topic("state/t1"), since=later) == {"temperature": 60.5}
    assert observer.wait_json(node.topic("state/room"), since=later)["humidity"] == 40.0
    node.set_hw({}, **hardware())
    mark = observer.mark()
    assert observer.wait_json(node.topic("state/t3"), lambda s: "error" not in s, 20, mark) == {
        "temperature": 10.0
    }
    log = [m.json() for m in observer.on(node.topic("log"))]
    lines = [e["msg"] for batch in log for e in batch["entries"] if e["src"] == "t3"]
    assert sum("no reading" in line for line in lines) == 1, lines  # logged once, at W


def test_scan_finds_the_probes_and_the_i2c_devices(cellar: SimNode, observer: Observer) -> None:
    node = cellar
    mark = observer.mark()
    n = node.command(observer, "scan", bus="onewire", pin=22)
    assert node.reply(observer, n, mark) == {"n": n, "ok": True, "error": None, "found": ROMS}
    n = node.command(observer, "scan", bus="i2c", sda=4, scl=5)
    assert node.reply(observer, n, mark) == {
        "n": n,
        "ok": True,
        "error": None,
        "found": [0x38, 0x62],
    }
    # an empty bus: found nothing, not an error
    n = node.command(observer, "scan", bus="onewire", pin=21)
    assert node.reply(observer, n, mark) == {"n": n, "ok": True, "error": None, "found": []}
    # the probes still read after the scans
    later = observer.mark()
    assert observer.wait_json(node.topic("state/t4"), since=later) == {"temperature": 22.0625}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"bus": "onewire", "pin": 4}, "pin in use"),  # the I2C bus's SDA
        ({"bus": "i2c", "sda": 4, "scl": 9}, "pin in use"),  # SDA of the bus on 4 and 5
        ({"bus": "onewire", "pin": "<b>"}, "bad value: pin"),
        ({"bus": "onewire", "pin": 1e99}, "bad value: pin"),
        ({"bus": "spi"}, "bad value: bus"),
        ({"bus": "i2c", "sda": 4, "scl": 7}, "scan.bus.scl: 7 is not an SCL pin of I2C0 (SDA 4)"),
        (
            {"bus": "i2c", "sda": 4, "scl": 5, "freq": -1},
            "scan.bus.freq: -1 is not in 10000-400000",
        ),
    ],
)
def test_scan_refusals(
    cellar: SimNode, observer: Observer, fields: dict[str, Any], error: str
) -> None:
    node = cellar
    mark = observer.mark()
    n = node.command(observer, "scan", **fields)
    assert node.reply(observer, n, mark) == {"n": n, "ok": False, "error": error}


@pytest.mark.parametrize(
    ("sensors", "errors"),
    [
        (
            [*AIR, {**AIR[0], "id": "air2", "bus": {**BUS, "freq": 400000}}],
            [
                "sensors[2].bus.freq: 400000 differs from 100000 of the bus on SDA 4 SCL 5",
                "sensors[2].address: 0x62 used twice on the bus on SDA 4 SCL 5",
            ],
        ),
        (
            [*PROBES[:1], {**PROBES[1], "rom": ROMS[0]}],
            [f"sensors[1].rom: {ROMS[0]} used twice on pin 22"],
        ),
        (
            [*AIR[:1], {"id": "relay", "type": "relay", "pin": 5}],
            ["sensors[1].pin: 5 used twice"],
        ),
        (
            [{**PROBES[0], "rom": "28FF\n<script>"}],
            ["sensors[0].rom: '28FF\\n<script>' is not a ROM code (16 hex digits)"],
        ),
        (
            [{**AIR[0], "bus": [4, 5]}, {**AIR[1], "bus": {"sda": 8, "scl": 11}}],
            [
                "sensors[0].bus: expected an object",
                "sensors[1].bus.scl: 11 is not an SCL pin of I2C0 (SDA 8)",
            ],
        ),
    ],
)
def test_bad_bus_configurations_are_refused_and_the_node_runs_on(
    cellar: SimNode, observer: Observer, sensors: list[dict[str, Any]], errors: list[str]
) -> None:
    node = cellar
    mark = observer.mark()
    node.push_config(observer, config(sensors, version=2))
    state = observer.wait_json(node.topic("config/state"), since=mark)
    assert state == {"version": 2, "ok": False, "errors": errors}
    later = observer.mark()
    assert observer.wait_json(node.topic("state/t1"), since=later) == {"temperature": 60.5}


# Problems in many peripherals, the pins' and buses' among the others': a plain pin after a bus
# holds it and a bus after a plain pin holds it, a 1-Wire probe on an I2C bus's SCL, a plain pin
# on a 1-Wire bus's pin. The pins and buses are checked after the rest (home/pincheck.py after
# home/check.py); the list is the one the checks gave in one pass (computed once with the
# firmware before the split, commit b915f15), in the same order.
TANGLED = [
    {"id": "air", "type": "scd4x", "bus": {"sda": 4, "scl": 5}, "interval": 1, "filters": 5},
    {"id": "lamp", "type": "led", "pin": 4, "freq": 5},
    {"id": "Bad", "type": "relay", "pin": 2},
    {"id": "room", "type": "aht20", "bus": {"sda": 2, "scl": 3}, "address": 0x40, "interval": 0},
    {"id": "room", "type": "nope", "pin": 6},
    {"id": "probe", "type": "ds18b20", "pin": 3, "rom": "xyz", "interval": "x"},
    {"id": "st", "type": "status_led", "pin": "LED"},
    {"id": "st2", "type": "status_led", "pin": "LED"},
    {"id": "adc", "type": "adc", "pin": 5, "volts1": 1, "volts2": 1},
    {"id": "p2", "type": "ds18b20", "pin": 22, "rom": ROMS[0]},
    {"id": "p3", "type": "ds18b20", "pin": 22, "rom": ROMS[0]},
    {"id": "bus2", "type": "bh1750", "bus": {"sda": 4, "scl": 5, "freq": 400000}, "address": 0x23},
    {"id": "pir", "type": "motion", "pin": 22},
]
TANGLED_ERRORS = [
    "telemetry_interval: 1 is not in 5-86400",
    "sensors[0].interval: 1 is not in 2-86400",
    "sensors[0].filters: expected an object",
    "sensors[1].pin: 4 used twice",
    "sensors[1].freq: 5 is not in 100-40000",
    "sensors[2].id: 'Bad' is not a sensor id ([a-z0-9_]{1,16})",
    "sensors[3].bus.sda: 2 used twice",
    "sensors[3].address: 64 is not one of 0x38, 0x39",
    "sensors[3].interval: 0 is not in 2-86400",
    "sensors[4].id: room used twice",
    "sensors[4].type: 'nope' is not one of dht22, motion, led, status_led, relay, binary_input,"
    " pwm_output, adc, aht20, sht3x, sht4x, bme280, bh1750, scd4x, ds18b20",
    "sensors[5].pin: 3 used twice",
    "sensors[5].rom: 'xyz' is not a ROM code (16 hex digits)",
    "sensors[5].interval: expected int, got 'x'",
    "sensors[7].type: only one status_led",
    "sensors[7].pin: LED used twice",
    "sensors[8].pin: 5 is not an analog input on rp2",
    "sensors[8].volts2: must differ from volts1",
    f"sensors[10].rom: {ROMS[0]} used twice on pin 22",
    "sensors[11].bus.freq: 400000 differs from 100000 of the bus on SDA 4 SCL 5",
    "sensors[12].pin: 22 used twice",
]


def test_the_problems_of_many_peripherals_come_in_their_order(
    cellar: SimNode, observer: Observer
) -> None:
    node = cellar
    mark = observer.mark()
    node.push_config(observer, {**config(TANGLED, version=2), "telemetry_interval": 1})
    state = observer.wait_json(node.topic("config/state"), since=mark)
    assert state == {"version": 2, "ok": False, "errors": TANGLED_ERRORS}
    later = observer.mark()
    assert observer.wait_json(node.topic("state/t1"), since=later) == {"temperature": 60.5}
