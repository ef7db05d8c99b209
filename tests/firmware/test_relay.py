"""A relay: a plain GPIO output, switched by `set`, inverted on request, state echoed."""

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
