"""A relay: a plain GPIO output, switched by `set`, inverted on request, state echoed, off
after its maximum on-time; a button's events, never retained."""

import time
from typing import Any

from tests.firmware.conftest import NodeFactory, online
from tests.firmware.harness import Observer, SimNode

RELAYS: dict[str, Any] = {
    "version": 1,
    "name": "Shed",
    "telemetry_interval": 60,
    "log_level": "I",
    "sensors": [
        {"id": "pump", "type": "relay", "pin": 17},
        {"id": "fan", "type": "relay", "pin": 18, "inverted": True},
    ],
}


def pin_level(node: SimNode, pin: str, level: int) -> None:
    deadline = time.monotonic() + 3
    while node.hw_out()["pins"].get(pin) != level:
        assert time.monotonic() < deadline, f"pin {pin} never became {level}"
        time.sleep(0.02)


def test_relay_switches_its_pin_and_echoes_its_state(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = start_node()
    online(observer, node)
    node.push_config(observer, RELAYS)
    assert observer.wait_json(node.topic("config/state")) == {
        "version": 1,
        "ok": True,
        "errors": [],
    }
    # Both start off: the plain one low, the inverted one high; their state says "off".
    assert observer.wait_json(node.topic("state/pump")) == {"on": False}
    assert observer.wait_json(node.topic("state/fan")) == {"on": False}
    pin_level(node, "17", 0)
    pin_level(node, "18", 1)
    for relay, pin, on_level in (("pump", "17", 1), ("fan", "18", 0)):
        mark = observer.mark()
        n = node.command(observer, "set", id=relay, on=True)
        assert node.reply(observer, n, mark) == {"n": n, "ok": True, "error": None}
        assert observer.wait_json(node.topic(f"state/{relay}"), since=mark) == {"on": True}
        pin_level(node, pin, on_level)
        mark = observer.mark()
        n = node.command(observer, "set", id=relay, on=False)
        assert node.reply(observer, n, mark)["ok"]
        assert observer.wait_json(node.topic(f"state/{relay}"), since=mark) == {"on": False}
        pin_level(node, pin, 1 - on_level)

    mark = observer.mark()
    n = node.command(observer, "set", id="pump", on="yes")
    assert node.reply(observer, n, mark) == {"n": n, "ok": False, "error": "bad value: on"}

    # A bad `inverted` refuses the whole configuration; the relays keep running.
    mark = observer.mark()
    bad = {
        **RELAYS,
        "version": 2,
        "sensors": [{"id": "pump", "type": "relay", "pin": 17, "inverted": "yes"}],
    }
    node.push_config(observer, bad)
    state = observer.wait_json(node.topic("config/state"), since=mark)
    assert state == {
        "version": 2,
        "ok": False,
        "errors": ["sensors[0].inverted: expected bool, got 'yes'"],
    }
    mark = observer.mark()
    n = node.command(observer, "set", id="fan", on=True)
    assert node.reply(observer, n, mark)["ok"]
    pin_level(node, "18", 0)


def test_the_node_turns_a_relay_off_after_its_maximum_on_time(
    start_node: NodeFactory, observer: Observer
) -> None:
    """With Home Assistant gone (nobody but this observer on the broker), a pump switched on
    is switched off by the node itself after `max_on` s, and says so; off earlier, no timer."""
    node = start_node()
    online(observer, node)
    config = {
        **RELAYS,
        "sensors": [
            {"id": "pump", "type": "relay", "pin": 17, "max_on": 2},
            {"id": "fan", "type": "relay", "pin": 18},
        ],
    }
    node.push_config(observer, config)
    assert observer.wait_json(node.topic("config/state"))["ok"]
    for relay in ("pump", "fan"):
        mark = observer.mark()
        n = node.command(observer, "set", id=relay, on=True)
        assert node.reply(observer, n, mark)["ok"]
    pin_level(node, "17", 1)
    pin_level(node, "18", 1)
    mark = observer.mark()
    off = observer.wait_json(node.topic("state/pump"), lambda s: not s["on"], 10, mark)
    assert off == {"on": False}
    pin_level(node, "17", 0)
    assert node.hw_out()["pins"]["18"] == 1, "a relay without max_on stays on"
    assert "on for 2 s: turned off" in node.console()
    # Switched on again and off by command before the limit: no late switch-off of a new run.
    mark = observer.mark()
    n = node.command(observer, "set", id="pump", on=True)
    assert node.reply(observer, n, mark)["ok"]
    n = node.command(observer, "set", id="pump", on=False)
    assert node.reply(observer, n, mark)["ok"]
    n = node.command(observer, "set", id="pump", on=True)
    assert node.reply(observer, n, mark)["ok"]
    topic = node.topic("state/pump")
    observer.wait(topic, lambda m: len(observer.on(topic, mark)) >= 4, 10, mark)
    states = [m.json()["on"] for m in observer.on(node.topic("state/pump"), mark)]
    assert states == [True, False, True, False], states


def test_a_button_tells_its_events_once_and_never_retained(
    start_node: NodeFactory, observer: Observer, mosquitto: Any
) -> None:
    node = start_node()
    node.set_hw({"9": 1})
    online(observer, node)
    button = {"id": "btn", "type": "binary_input", "pin": 9, "pull": "up", "inverted": True}
    config = {**RELAYS, "sensors": [button | {"events": True, "double_ms": 300}]}
    node.push_config(observer, config)
    assert observer.wait_json(node.topic("config/state"))["ok"]
    assert observer.wait_json(node.topic("state/btn")) == {"on": False}
    mark = observer.mark()
    node.set_hw({"9": 0})
    time.sleep(0.2)
    node.set_hw({"9": 1})
    event = observer.wait(node.topic("state/btn"), lambda m: b"event" in m.payload, 5, mark)
    assert event.json() == {"on": False, "event": "press"}
    # A client that comes now (Home Assistant after a restart) gets the state, not the press.
    late = Observer(mosquitto.host, mosquitto.port)
    try:
        kept = late.wait(node.topic("state/btn"), timeout=5)
        assert kept.retain and kept.json() == {"on": False}
    finally:
        late.close()


def test_a_pwm_output_applies_its_duty_at_once(start_node: NodeFactory, observer: Observer) -> None:
    node = start_node()
    online(observer, node)
    config = {**RELAYS, "sensors": [{"id": "dosing", "type": "pwm_output", "pin": 14}]}
    node.push_config(observer, config)
    assert observer.wait_json(node.topic("config/state"))["ok"]
    assert observer.wait_json(node.topic("state/dosing")) == {"duty": 0}
    mark = observer.mark()
    n = node.command(observer, "set", id="dosing", duty=42.5)
    assert node.reply(observer, n, mark)["ok"]
    assert observer.wait_json(node.topic("state/dosing"), since=mark) == {"duty": 42.5}
    assert node.hw_out()["pwm"]["14"] == {"duty_u16": 27852, "freq": 1000}
    for bad in (101, -1, "50", True):
        mark = observer.mark()
        n = node.command(observer, "set", id="dosing", duty=bad)
        assert node.reply(observer, n, mark)["error"] == "bad value: duty"
    assert node.hw_out()["pwm"]["14"]["duty_u16"] == 27852, "a refused duty changes nothing"
