"""Filters on the node (home/filter.py), on the real firmware and mosquitto: noise never
reaches MQTT, delta and heartbeat decide what is published, calibration, hostile settings."""

from typing import Any

from tests.firmware.conftest import NodeFactory, online
from tests.firmware.harness import Observer, SimNode

HALF = 32768  # 1.65 V of 3.3 V
FULL = 65535  # a spike: 3.3 V


def adc_config(version: int, filters: dict[str, Any]) -> dict[str, Any]:
    """Two ADC inputs on the same signal, every 2 s: `tank` with filters, `plain` without."""
    return {
        "version": version,
        "name": "Reactor",
        "telemetry_interval": 60,
        "log_level": "I",
        "sensors": [
            {"id": "tank", "type": "adc", "pin": 26, "interval": 2, "filters": filters},
            {"id": "plain", "type": "adc", "pin": 27, "interval": 2},
        ],
    }


def adc_node(start_node: NodeFactory, observer: Observer) -> SimNode:
    """A node at 1.65 V on both inputs. The sim compiles its ADC model (sim/buses.py) from
    source in the node's heap, which a board has in ROM: a larger heap leaves room for that."""
    node = start_node(extra=("--heapsize", "128K"))
    signal(node, HALF)
    online(observer, node)
    return node


def signal(node: SimNode, raw: int) -> None:
    node.set_hw({}, adc={"26": raw, "27": raw})


def configure(node: SimNode, observer: Observer, config: dict[str, Any]) -> dict[str, Any]:
    mark = observer.mark()
    node.push_config(observer, config)
    state: dict[str, Any] = observer.wait_json(
        node.topic("config/state"), lambda s: s["version"] == config["version"], since=mark
    )
    return state


def readings(observer: Observer, node: SimNode, sensor: str, count: int, since: int) -> list[Any]:
    """Wait for count messages of sensor after since; all of them."""
    topic = node.topic(f"state/{sensor}")
    observer.wait(topic, lambda m: len(observer.on(topic, since)) >= count, 8 * count, since)
    return [m.json() for m in observer.on(topic, since)]


def test_a_median_keeps_a_spike_off_mqtt_and_calibration_applies(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = adc_node(start_node, observer)
    # value: the median of 5, then the line through (0, -10) and (3.3, 320), plus 2:
    # 1.65 V -> 155 + 2 = 157
    filters = {
        "voltage": {"window": 5, "average": "median"},
        "value": {"window": 5, "raw1": 0, "ref1": -10, "raw2": 3.3, "ref2": 320, "offset": 2},
    }
    assert configure(node, observer, adc_config(1, filters))["ok"]
    first = observer.wait_json(node.topic("state/tank"))
    assert first == {"voltage": 1.65, "value": 157.0}
    readings(observer, node, "tank", 5, 0)  # the window full
    mark = observer.mark()
    signal(node, FULL)  # one or two readings long: fewer than half the window
    readings(observer, node, "plain", 2, mark)
    signal(node, HALF)
    plain = readings(observer, node, "plain", 6, mark)
    assert {"voltage": 3.3, "value": 3.3} in plain, "the spike was there"
    tank = readings(observer, node, "tank", 6, mark)
    assert set(map(str, tank)) == {str(first)}, "and never reached MQTT through the median"


def test_delta_holds_back_small_changes_and_the_heartbeat_publishes_anyway(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = adc_node(start_node, observer)
    held = {"delta": 0.5}
    assert configure(node, observer, adc_config(1, {"voltage": held, "value": held}))["ok"]
    observer.wait_json(node.topic("state/tank"))
    readings(observer, node, "plain", 2, 0)  # past the states the node sends after a config
    mark = observer.mark()
    signal(node, HALF + 3000)  # +0.15 V: less than the delta
    plain = readings(observer, node, "plain", 5, mark)
    assert {"voltage": 1.801, "value": 1.801} in plain
    assert observer.on(node.topic("state/tank"), mark) == [], "no heartbeat: nothing published"
    signal(node, FULL)  # +1.5 V: published at the next reading
    moved = observer.wait_json(node.topic("state/tank"), since=mark)
    assert moved == {"voltage": 3.3, "value": 3.3}

    # A heartbeat of 4 s with a delta nothing reaches: the same value, every 4-6 s.
    beat = {"delta": 1000, "heartbeat": 4}
    assert configure(node, observer, adc_config(2, {"voltage": beat, "value": beat}))["ok"]
    mark = observer.mark()
    plain = readings(observer, node, "plain", 7, mark)
    tank = [m.json() for m in observer.on(node.topic("state/tank"), mark)]
    assert 2 <= len(tank) < len(plain), (tank, plain)
    assert all(state == {"voltage": 3.3, "value": 3.3} for state in tank)


def test_bad_filter_settings_are_refused_with_their_path_and_the_old_ones_run(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = adc_node(start_node, observer)
    good = {"value": {"raw1": 0, "ref1": 0, "raw2": 3.3, "ref2": 100}}
    assert configure(node, observer, adc_config(1, good))["ok"]
    assert observer.wait_json(node.topic("state/tank")) == {"voltage": 1.65, "value": 50.0}
    hostile: dict[str, Any] = {
        "value": {
            "window": 10**20,
            "average": "mode\n<b>",
            "offset": -1e300,
            "delta": "0.5",
            "heartbeat": -1,
            "raw1": 2,
            "oops": 1,
        },
        "voltage": [],
        "brightness": {},
    }
    state = configure(node, observer, adc_config(2, hostile))
    assert state["ok"] is False
    errors = state["errors"]
    prefix = "sensors[0].filters."
    assert all(error.startswith(prefix) for error in errors), errors
    fields = sorted(error[len(prefix) :].split(":")[0] for error in errors)
    assert fields == [
        "brightness",
        "value.average",
        "value.delta",
        "value.heartbeat",
        "value.offset",
        "value.oops",
        "value.window",
        "voltage",
    ], errors
    # NaN and Infinity are not JSON: such a body is dropped unanswered (docs/protocol.md)
    # and Home Assistant refuses them before sending (tests/integration/test_filters.py).
    same = {"value": {"raw1": 1, "raw2": 1}}
    state = configure(node, observer, adc_config(3, same))
    assert state["errors"] == ["sensors[0].filters.value.raw2: must differ from raw1"]
    # the calibrated configuration runs on
    mark = observer.mark()
    signal(node, FULL)
    assert observer.wait_json(node.topic("state/tank"), lambda s: s["value"] == 100.0, since=mark)
