"""Signed commands: lights, identify, announce, reboot, ota, and every refusal."""

import json
import socket
import time
from typing import Any

from tests.firmware.conftest import CONFIG, HARDWARE, NodeFactory, online
from tests.firmware.harness import OTA_HEAPSIZE, Observer, SimNode, next_n, wait_until


def test_led_set_with_transition_ramps_duty_and_echoes_state(
    configured: SimNode, observer: Observer
) -> None:
    node = configured
    observer.wait_json(node.topic("state/lamp"))
    mark = observer.mark()
    n = node.command(observer, "set", id="lamp", on=True, brightness=200, transition=1.0)
    duties = [0]
    deadline = time.monotonic() + 1.5  # the fade takes 1 s
    while time.monotonic() < deadline:
        duty = node.hw_out().get("pwm", {}).get("14", {}).get("duty_u16")
        if duty is not None and duty != duties[-1]:
            duties.append(duty)
        time.sleep(0.005)
    # the state is echoed at the start, with the target
    assert observer.wait_json(node.topic("state/lamp"), since=mark) == {
        "on": True,
        "brightness": 200,
    }
    assert node.reply(observer, n, mark) == {"n": n, "ok": True, "error": None}
    assert duties == sorted(duties), duties
    assert len(duties) >= 10, f"no fade: {duties}"
    final = duties[-1]
    assert 0.55 < final / 65535 < 0.66, final  # gamma-corrected: (200/255)^2 is about 0.62

    # off, then a bare `on` restores the last brightness; 255 is full duty
    mark = observer.mark()
    n = node.command(observer, "set", id="lamp", on=False)
    assert node.reply(observer, n, mark)["ok"]
    assert observer.wait_json(node.topic("state/lamp"), since=mark) == {
        "on": False,
        "brightness": 0,
    }
    assert node.hw_out()["pwm"]["14"]["duty_u16"] == 0
    mark = observer.mark()
    node.command(observer, "set", id="lamp", on=True)
    assert observer.wait_json(node.topic("state/lamp"), since=mark)["brightness"] == 200
    mark = observer.mark()
    node.command(observer, "set", id="lamp", brightness=255)
    assert observer.wait_json(node.topic("state/lamp"), since=mark) == {
        "on": True,
        "brightness": 255,
    }
    assert node.hw_out()["pwm"]["14"]["duty_u16"] == 65535
    mark = observer.mark()
    node.command(observer, "set", id="lamp", brightness=0)
    assert observer.wait_json(node.topic("state/lamp"), since=mark) == {
        "on": False,
        "brightness": 0,
    }


def test_status_led_is_a_light_and_identify_blinks_it(
    configured: SimNode, observer: Observer
) -> None:
    node = configured
    mark = observer.mark()
    n = node.command(observer, "set", id="status", on=True)
    assert node.reply(observer, n, mark)["ok"]
    # The state the configuration published may still be on its way: wait for the echo.
    observer.wait_json(node.topic("state/status"), lambda body: body == {"on": True}, since=mark)
    deadline = time.monotonic() + 2
    while node.hw_out()["pins"].get("LED") != 1:
        assert time.monotonic() < deadline, node.hw_out()
        time.sleep(0.02)

    mark = observer.mark()
    n = node.command(observer, "identify", seconds=2)
    assert node.reply(observer, n, mark)["ok"]
    seen = set()
    changes = 0
    last = None
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        value = node.hw_out()["pins"].get("LED")
        seen.add(value)
        changes += value != last
        last = value
        time.sleep(0.01)
    assert seen == {0, 1}
    assert changes >= 4  # blinking at 2 Hz
    deadline = time.monotonic() + 3
    while node.hw_out()["pins"].get("LED") != 1:  # back to the light's own state
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_refused_commands_are_answered_with_the_reason(
    configured: SimNode, observer: Observer, vectors: dict[str, Any]
) -> None:
    node = configured
    cases: list[tuple[dict[str, Any], str]] = [
        ({"cmd": "set", "id": "nope", "on": True}, "unknown sensor"),
        ({"cmd": "set", "id": "climate", "on": True}, "not a light"),
        ({"cmd": "set", "id": "lamp", "brightness": 300}, "bad value: brightness"),
        ({"cmd": "set", "id": "lamp", "on": "yes"}, "bad value: on"),
        ({"cmd": "set", "id": "lamp", "transition": 61}, "bad value: transition"),
        ({"cmd": "identify", "seconds": 0}, "bad value: seconds"),
        ({"cmd": "dance"}, "unknown command"),
        ({"cmd": "ota", "version": "1.3.0"}, "bad value: host"),
    ]
    for fields, error in cases:
        mark = observer.mark()
        n = node.command(observer, **fields)
        assert node.reply(observer, n, mark) == {"n": n, "ok": False, "error": error}

    # signature and replay problems, with the vectors' node key
    mark = observer.mark()
    n = next_n()
    body = json.dumps({"n": n, "cmd": "announce"})
    observer.publish(node.topic("cmd"), node.signed("cmd", body, key=bytes(32)))
    assert node.reply(observer, n, mark) == {"n": n, "ok": False, "error": "bad signature"}
    observer.publish(node.topic("cmd"), body)
    assert node.reply(observer, n, mark + 1)["error"] == "bad signature"

    mark = observer.mark()
    old = next_n() - 100_000
    observer.publish(node.topic("cmd"), node.signed("cmd", {"n": old, "cmd": "announce"}))
    assert node.reply(observer, old, mark) == {"n": old, "ok": False, "error": "replayed n"}
    assert observer.on(node.topic("announce"), mark) == []

    mark = observer.mark()
    observer.publish(node.topic("cmd"), node.signed("cmd", "[1, 2]"))
    assert observer.wait_json(node.topic("reply"), since=mark)["error"] == "bad value: n"


def test_ota_is_routed_to_the_update_manager(start_node: NodeFactory, observer: Observer) -> None:
    node = start_node(extra=("--heapsize", OTA_HEAPSIZE))
    node.set_hw(HARDWARE)
    online(observer, node)
    node.push_config(observer, CONFIG)
    observer.wait_json(node.topic("config/state"), lambda s: s["ok"])
    mark = observer.mark()
    n = node.command(
        observer, "ota", version="1.3.0", host="127.0.0.1", port=closed_port(), user="u",
        password="p", path="/1.3.0", manifest_sha256="0" * 64,
    )  # fmt: skip
    assert node.reply(observer, n, mark)["ok"] is True
    status = observer.wait_json(node.topic("ota/status"), lambda s: s["state"] == "failed", 5, mark)
    assert status["version"] == "1.3.0"
    assert "ECONNREFUSED" in status["error"]  # nothing listens there: the update stops cleanly

    # The updater resets into the running version, which reports the failure again.
    def failures() -> int:
        return sum(m.json() == status for m in observer.on(node.topic("ota/status"), mark))

    wait_until(lambda: failures() >= 2, 15, "the failure reported again")
    online(observer, node, mark)
    again = node.command(observer, "announce")
    assert node.reply(observer, again, mark)["ok"] is True  # and the node carries on


def test_reboot_answers_then_restarts(configured: SimNode, observer: Observer) -> None:
    node = configured
    observer.wait_json(node.topic("telemetry"))
    mark = observer.mark()
    n = node.command(observer, "reboot")
    reply = node.reply(observer, n, mark)
    assert reply["ok"] is True
    offline = observer.wait(node.topic("status"), lambda m: m.payload == b"offline", 5, mark)
    assert offline.index > reply_index(observer, node, n)
    online(observer, node, offline.index)
    telemetry = observer.wait_json(node.topic("telemetry"), since=offline.index)
    assert telemetry["boot"] == 2
    assert telemetry["reset_cause"] == "wdt"  # how a Pico W reports machine.reset()
    assert telemetry["cfg"] == 1


def test_reboot_out_of_memory_on_the_way_still_restarts(
    configured: SimNode, observer: Observer
) -> None:
    """The heap taken whole (the sim's `hog`) while the node says goodbye to the broker: it
    resets all the same (the broker tells the will), a normal boot, not a crash. Before, the
    reboot's task died of the MemoryError and the node never restarted (an OTA update too)."""
    node = configured
    observer.wait_json(node.topic("telemetry"))
    mark = observer.mark()
    n = node.command(observer, "reboot")
    assert node.reply(observer, n, mark)["ok"] is True
    node.set_hw(HARDWARE, hog=2000)
    wait_until(lambda: "sim: the heap held" in node.console() or None, 5, "the heap taken")
    node.set_hw(HARDWARE)  # once: not again at the next boot
    offline = observer.wait(node.topic("status"), lambda m: m.payload == b"offline", 15, mark)
    online(observer, node, offline.index)
    telemetry = observer.wait_json(node.topic("telemetry"), since=offline.index)
    assert telemetry["boot"] == 2
    assert telemetry["reset_cause"] == "wdt"  # machine.reset() on a Pico W
    assert "crash" not in node.console()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reply_index(observer: Observer, node: SimNode, n: int) -> int:
    return next(m.index for m in observer.on(node.topic("reply")) if m.json()["n"] == n)
