"""Runtime configuration: applied without a reboot, refused whole when anything is wrong."""

import copy
import json
from typing import Any

import pytest

from tests.firmware.conftest import CONFIG, HARDWARE, NodeFactory, online
from tests.firmware.harness import Observer, SimNode, next_n, wait_until


def test_config_push_applies_and_sensors_publish(configured: SimNode, observer: Observer) -> None:
    node = configured
    climate = observer.wait_json(node.topic("state/climate"))
    assert climate == {"temperature": 21.5, "humidity": 40.2}
    assert observer.wait_json(node.topic("state/pir")) == {"motion": False}
    assert observer.wait_json(node.topic("state/lamp")) == {"on": False, "brightness": 0}
    assert observer.wait_json(node.topic("state/status")) == {"on": False}
    announce = observer.wait_json(node.topic("announce"), lambda a: a["cfg"] == 1)
    assert announce["name"] == "Kitchen"
    assert node.hw_out()["pwm"]["14"] == {"duty_u16": 0, "freq": 1000}

    # readings follow the hardware, and telemetry comes every telemetry_interval (5 s)
    mark = observer.mark()
    node.set_hw({**HARDWARE, "15": {"temperature": 23.04, "humidity": 55.55}})
    reading = observer.wait_json(
        node.topic("state/climate"), lambda s: s["temperature"] == 23.0, 5, mark
    )
    assert reading["humidity"] == pytest.approx(55.5, abs=0.11)
    first = observer.wait(node.topic("telemetry"), since=mark, timeout=7)
    second = observer.wait(node.topic("telemetry"), since=first.index + 1, timeout=7)
    assert 4 <= second.at - first.at <= 6.5
    assert second.json()["cfg"] == 1


def test_changed_config_removes_and_moves_sensors(configured: SimNode, observer: Observer) -> None:
    node = configured
    observer.wait_json(node.topic("state/lamp"))
    config = copy.deepcopy(CONFIG)
    config["version"] = 2
    config["sensors"] = [
        {"id": "climate", "type": "dht22", "pin": 15, "interval": 2},
        {"id": "pir", "type": "motion", "pin": 14, "off_delay": 1},  # moved onto the lamp's pin
    ]
    mark = observer.mark()
    node.push_config(observer, config)
    assert observer.wait_json(node.topic("config/state"), since=mark)["ok"] is True
    for sensor in ("lamp", "status"):  # retained states of removed sensors are emptied
        observer.wait(node.topic(f"state/{sensor}"), lambda m: m.payload == b"", 5, mark)
    assert "14" not in node.hw_out()["pwm"]  # PWM released

    mark = observer.mark()
    node.set_hw({**HARDWARE, "14": 1})
    assert observer.wait_json(node.topic("state/pir"), lambda s: s["motion"], 3, mark)
    assert observer.wait_json(node.topic("announce"), lambda a: a["cfg"] == 2)
    assert observer.on(node.topic("state/lamp"))[-1].payload == b""


def _refused(observer: Observer, node: SimNode, config: dict[str, Any], mark: int) -> Any:
    node.push_config(observer, config)
    return observer.wait_json(node.topic("config/state"), lambda s: not s["ok"], 10, mark)


def _still_running_version_1(observer: Observer, node: SimNode) -> None:
    mark = observer.mark()
    n = node.command(observer, "announce")
    assert node.reply(observer, n, mark)["ok"] is True
    assert observer.wait_json(node.topic("announce"), since=mark)["cfg"] == 1
    assert observer.wait_json(node.topic("state/climate"), since=mark, timeout=5)["temperature"]
    stored = json.loads((node.state_dir / "flash" / "data" / "config.json").read_text())
    assert stored["version"] == 1
    assert [s["id"] for s in stored["sensors"]] == ["climate", "pir", "lamp", "status"]


@pytest.mark.parametrize("platform", ["rp2", "esp32"])
def test_invalid_vector_configs_are_refused_and_change_nothing(
    start_node: NodeFactory, observer: Observer, vectors: dict[str, Any], platform: str
) -> None:
    node = start_node(platform=platform)
    node.set_hw(HARDWARE)
    online(observer, node)
    good = copy.deepcopy(CONFIG)
    if platform == "esp32":
        good["sensors"][3]["pin"] = 2
    node.push_config(observer, good)
    assert observer.wait_json(node.topic("config/state"))["ok"] is True

    cases = [c for c in vectors["configs"]["invalid"] if c["platform"] == platform]
    assert cases
    for case in cases:
        mark = observer.mark()
        state = _refused(observer, node, case["config"], mark)
        assert state["errors"], case["why"]
        assert all(": " in error for error in state["errors"]), state["errors"]
        expected_version = case["config"].get("version", 1)
        assert state["version"] == expected_version, case["why"]
    _still_running_version_1(observer, node)


def test_specific_reasons_name_the_field(configured: SimNode, observer: Observer) -> None:
    node = configured
    config = copy.deepcopy(CONFIG)
    config["version"] = 5
    config["sensors"][1]["pin"] = 15
    config["sensors"][2]["type"] = "bme680"
    config["telemetry_interval"] = "60"
    state = _refused(observer, node, config, observer.mark())
    assert state["version"] == 5
    assert "sensors[1].pin: 15 used twice" in state["errors"]
    assert any(e.startswith("sensors[2].type: 'bme680'") for e in state["errors"])
    assert any(e.startswith("telemetry_interval: expected int") for e in state["errors"])
    _still_running_version_1(observer, node)


def test_unsigned_replayed_and_unparsable_configs_are_dropped(
    configured: SimNode, observer: Observer
) -> None:
    node = configured
    topic = node.topic("config/set")
    good = {**CONFIG, "version": 9}
    old_n = next_n() - 10_000
    cases = {
        "bad signature": node.signed("config/set", {"n": next_n(), **good}, key=bytes(32)),
        "bad value: n": node.signed("config/set", "not json"),
        "replayed n": node.signed("config/set", {"n": old_n, **good}),
    }
    mark = observer.mark()
    for payload in [*cases.values(), f"{'0' * 64} {json.dumps({'n': next_n(), **good})}"]:
        observer.publish(topic, payload, retain=True)

    def warnings() -> list[str] | None:
        found = [
            entry["msg"]
            for message in observer.on(node.topic("log"), mark)
            for entry in message.json()["entries"]
            if entry["lvl"] == "W" and "config/set dropped" in entry["msg"]
        ]
        return found if len(found) >= 4 else None

    found = wait_until(warnings, 10, "four dropped config/set warnings")
    assert sum("bad signature" in w for w in found) == 2
    assert any("bad value: n" in w for w in found)
    assert any("replayed n" in w for w in found)
    assert observer.on(node.topic("config/state"), mark) == []

    # an empty retained config (node deleted in Home Assistant) is ignored too
    observer.publish(topic, "", retain=True)
    _still_running_version_1(observer, node)
    assert observer.on(node.topic("config/state"), mark) == []
