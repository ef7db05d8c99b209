"""Broker outages, killed firmware, restarts and crashes: the node comes back on its own."""

import itertools
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from microhome_tools.broker import Mosquitto
from tests.firmware.conftest import CONFIG, HARDWARE, NodeFactory, online
from tests.firmware.harness import N_RESERVED_MS, Observer, SimNode, time_passes, wait_until


def log_entries(observer: Observer, node: SimNode, boot: int) -> list[dict[str, Any]]:
    return [
        entry
        for message in observer.on(node.topic("log"))
        if message.json()["boot"] == boot
        for entry in message.json()["entries"]
    ]


@pytest.fixture
def durable_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A mosquitto that keeps sessions across its restart, so the observer misses nothing."""
    broker = Mosquitto(tmp_path_factory.mktemp("durable"))
    broker.conf.write_text(
        broker.conf.read_text().replace("persistence false", "persistence true")
        + f"persistence_location {broker.workdir}/\n"
    )
    yield broker.start()
    broker.stop()


def test_broker_outage_node_returns_without_losing_log_lines(
    durable_broker: Mosquitto, tmp_path: Path, vectors: dict[str, Any]
) -> None:
    keys = vectors["keys"]
    node = SimNode(
        (durable_broker.host, durable_broker.port),
        tmp_path / "node",
        keys["node_id"],
        keys["node_key"],
    )
    observer = Observer(durable_broker.host, durable_broker.port, durable=True)
    try:
        node.set_hw(HARDWARE)
        node.start()
        online(observer, node)
        node.push_config(observer, {**CONFIG, "log_level": "D"})
        assert observer.wait_json(node.topic("config/state"))["ok"]

        durable_broker.stop()
        time.sleep(10)
        # things happen while the broker is away; their log lines wait in the ring
        node.set_hw({**HARDWARE, "15": {"fail": True}})
        restarted = time.monotonic()
        mark = observer.mark()
        durable_broker.start()

        back = observer.wait(node.topic("status"), lambda m: m.payload == b"online", 20, mark)
        assert back.at - restarted < 15

        def complete() -> list[int] | None:
            seqs = sorted({entry["seq"] for entry in log_entries(observer, node, 1)})
            lost = [e for e in log_entries(observer, node, 1) if "connection lost" in e["msg"]]
            return seqs if lost and seqs == list(range(len(seqs))) else None

        seqs = wait_until(complete, 15, "every log line of boot 1, without gaps")
        messages = [entry["msg"] for entry in log_entries(observer, node, 1)]
        assert any("failed" in msg for msg in messages), messages  # reconnect attempts
        assert len(seqs) >= 8
        telemetry = observer.wait_json(node.topic("telemetry"), since=mark)
        assert telemetry["boot"] == 1  # the firmware kept running through the outage
    finally:
        node.stop()
        observer.close()
        print(node.console()[-4000:])


def test_killed_firmware_restarts_with_its_stored_config(
    configured: SimNode, observer: Observer
) -> None:
    node = configured
    observer.wait_json(node.topic("state/climate"))
    accepted = node.command(observer, "announce")
    assert node.reply(observer, accepted)["ok"]
    mark = observer.mark()
    os.kill(node.firmware_pid(), signal.SIGKILL)  # pulling the power
    observer.wait(node.topic("status"), lambda m: m.payload == b"offline", 5, mark)
    online(observer, node, mark)
    telemetry = observer.wait_json(node.topic("telemetry"), since=mark)
    assert telemetry["boot"] == 2
    assert telemetry["reset_cause"] == "power_on"
    assert telemetry["cfg"] == 1
    assert observer.wait_json(node.topic("announce"), since=mark)["cfg"] == 1
    assert observer.wait_json(node.topic("state/climate"), since=mark, timeout=5)["temperature"]
    # the broker re-delivered the retained config/set: ignored without a word
    assert observer.on(node.topic("config/state"), mark) == []
    time.sleep(0.5)
    dropped = [e for e in log_entries(observer, node, 2) if "config/set" in e["msg"]]
    assert dropped == []
    # the last accepted n survived the power cut
    observer.publish(node.topic("cmd"), node.signed("cmd", {"n": accepted, "cmd": "announce"}))
    assert node.reply(observer, accepted, mark)["error"] == "replayed n"


def test_restarted_sim_keeps_its_config_without_a_push(
    start_node: NodeFactory, observer: Observer, tmp_path: Path
) -> None:
    node = start_node(state_dir=tmp_path / "kept")
    node.set_hw(HARDWARE)
    online(observer, node)
    node.push_config(observer, CONFIG)
    assert observer.wait_json(node.topic("config/state"))["ok"]
    node.stop()
    observer.publish(node.topic("config/set"), "", retain=True)  # no retained config any more

    mark = observer.mark()
    again = start_node(state_dir=tmp_path / "kept")
    online(observer, again, mark)
    assert observer.wait_json(again.topic("announce"), since=mark)["cfg"] == 1
    assert observer.wait_json(again.topic("state/pir"), since=mark) == {"motion": False}
    assert observer.wait_json(again.topic("state/climate"), since=mark, timeout=5)["humidity"]
    telemetry = observer.wait_json(again.topic("telemetry"), since=mark)
    assert telemetry["boot"] == 2
    assert observer.on(again.topic("config/state"), mark) == []


def test_crash_traceback_is_published_after_the_next_boot(
    configured: SimNode, observer: Observer
) -> None:
    node = configured
    observer.wait_json(node.topic("state/pir"))
    mark = observer.mark()
    node.set_hw({**HARDWARE, "16": "smoke"})  # a broken board: reading the PIR pin fails
    wait_until(lambda: "Traceback" in node.console(), 5, "the firmware to crash")
    node.set_hw(HARDWARE)
    online(observer, node, mark)

    def crash_report() -> list[str] | None:
        lines = [e["msg"] for e in log_entries(observer, node, 2) if e["lvl"] == "C"]
        return lines if any(line.startswith("ValueError") for line in lines) else None

    report = wait_until(crash_report, 10, "the crash report on log")
    assert report[0] == "unhandled exception before boot 2:"
    assert report[1] == "Traceback (most recent call last):"
    assert any("motion.py" in line for line in report)
    assert {e["src"] for e in log_entries(observer, node, 2) if e["lvl"] == "C"} == {"crash"}
    telemetry = observer.wait_json(node.topic("telemetry"), since=mark)
    assert telemetry["reset_cause"] == "wdt"
    assert telemetry["boot"] == 2
    assert observer.wait_json(node.topic("state/pir"), since=mark) == {"motion": False}
    assert not (node.state_dir / "flash" / "data" / "crash.txt").exists()


def test_wifi_loss_blinks_the_status_led_and_the_node_comes_back(
    configured: SimNode, observer: Observer
) -> None:
    node = configured
    observer.wait_json(node.topic("state/status"))
    mark = observer.mark()
    node.set_hw(HARDWARE, wifi=False)
    observer.wait(node.topic("status"), lambda m: m.payload == b"offline", 5, mark)
    levels = []
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline:
        levels.append(node.hw_out()["pins"].get("LED"))
        time.sleep(0.01)
    flips = sum(a != b for a, b in itertools.pairwise(levels))
    assert flips >= 6, levels  # the fast "connecting to Wi-Fi" blink, 5 Hz

    node.set_hw(HARDWARE)
    online(observer, node, mark, timeout=10)
    messages = [e["msg"] for e in log_entries(observer, node, 1)]
    assert any("wifi" in m or "connection lost" in m for m in messages)
    wait_until(lambda: node.hw_out()["pins"].get("LED") == 0, 3, "the LED back to its state")


def test_a_driver_blocking_the_loop_ends_in_a_watchdog_reset_reported_after_it(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = start_node(platform="esp32")  # there machine.reset() says soft, a watchdog wdt
    node.set_hw(HARDWARE)
    online(observer, node)
    node.push_config(observer, {**CONFIG, "sensors": CONFIG["sensors"][:3]})
    assert observer.wait_json(node.topic("config/state"))["ok"]
    mark = observer.mark()
    node.set_hw({**HARDWARE, "16": "hang"})  # the PIR read never returns: the loop stops
    wait_until(lambda: "--- watchdog reset ---" in node.console(), 20, "the watchdog reset")
    node.set_hw(HARDWARE)
    online(observer, node, mark)
    telemetry = observer.wait_json(node.topic("telemetry"), since=mark)
    assert telemetry["reset_cause"] == "wdt"
    assert telemetry["boot"] == 2
    boot = [e["msg"] for e in log_entries(observer, node, 2) if e["src"] == "home"]
    assert "reset cause wdt" in boot[0]


def test_three_early_crashes_boot_into_safe_mode_until_a_new_config(
    configured: SimNode, observer: Observer
) -> None:
    node = configured
    observer.wait_json(node.topic("state/pir"))
    mark = observer.mark()
    node.set_hw({**HARDWARE, "16": "hang"})  # every boot hangs reading the PIR pin

    def safe_announce() -> Any:
        for message in observer.on(node.topic("announce"), mark):
            if "safe_mode" in message.json():
                return message.json()
        return None

    announce = wait_until(safe_announce, 60, "an announce in safe mode")
    reason = "3 boots in a row crashed within 60 s; last: watchdog reset"
    assert announce["safe_mode"] == reason
    assert announce["cfg"] == 1
    assert node.console().count("--- watchdog reset ---") == 3
    telemetry = observer.wait_json(node.topic("telemetry"), since=mark)
    assert telemetry["boot"] == 4
    time.sleep(2)  # no peripheral runs: no crash, and no state from a sensor
    assert observer.on(node.topic("state/pir"), observer.mark() - 1) == []
    assert "safe mode, no peripherals" in node.console()

    mark = observer.mark()
    time_passes(N_RESERVED_MS)  # past the replay mark the node reserved before the resets
    node.push_config(observer, {**CONFIG, "version": 2, "sensors": CONFIG["sensors"][2:]})
    assert observer.wait_json(node.topic("config/state"), since=mark)["ok"]
    announce = observer.wait_json(node.topic("announce"), lambda a: a["cfg"] == 2, since=mark)
    assert "safe_mode" not in announce
    n = node.command(observer, "set", id="lamp", on=True)
    assert node.reply(observer, n, mark)["ok"]


def test_driver_task_out_of_memory_starts_again(configured: SimNode, observer: Observer) -> None:
    """A peripheral whose task runs out of memory (the simulated pin read raises MemoryError,
    as any allocation in a driver's loop may) is started again, a second later and again until
    it runs: once memory is back, motion is reported. Logged once; no reboot, no reconnect."""
    node = configured
    mark = observer.mark()
    node.set_hw({**HARDWARE, "16": "nomem"})
    wait_until(
        lambda: (
            [e for e in log_entries(observer, node, 1) if "out of memory in pir" in e["msg"]]
            or None
        ),
        10,
        "the driver's MemoryError logged",
    )
    time_passes(2500)  # the driver has been started again, and failed again
    node.set_hw({**HARDWARE, "16": 1})
    state = observer.wait_json(node.topic("state/pir"), lambda s: s["motion"] is True, 10, mark)
    assert state == {"motion": True}
    logged = [e for e in log_entries(observer, node, 1) if "out of memory in pir" in e["msg"]]
    assert len(logged) == 1, logged
    assert observer.on(node.topic("status"), mark) == []
    n = node.command(observer, "set", id="lamp", on=True)
    assert node.reply(observer, n, mark)["ok"] is True


def test_a_heap_taken_whole_for_seconds_costs_no_reboot(
    configured: SimNode, observer: Observer
) -> None:
    """Every byte of the heap free taken for 3 s (the sim's `hog`) while a command arrives:
    the inbox, out of memory, keeps the command and handles it again once memory is back
    (before, it was dropped unanswered), and the next command is answered too. No reboot, no
    watchdog reset, no reconnect. Its n is past the replay mark's reserve, so the mark is
    written to the flash on its way, out of memory too (before, that could lose it)."""
    node = configured
    mark = observer.mark()
    node.set_hw(HARDWARE, hog=3000)
    wait_until(lambda: "sim: the heap held" in node.console() or None, 10, "the heap taken")
    time_passes(61000)
    during = node.command(observer, "set", id="lamp", on=True)
    wait_until(lambda: "sim: the heap free again" in node.console() or None, 10, "the heap back")
    after = node.command(observer, "set", id="lamp", on=False)
    assert node.reply(observer, after, mark, timeout=15)["ok"] is True
    answer = node.reply(observer, during, mark)
    assert answer["ok"] is True or answer["error"] == "busy"
    time_passes(9000)  # a starved watchdog would have reset the node by now
    assert "watchdog reset" not in node.console()
    assert observer.on(node.topic("status"), mark) == []
    n = node.command(observer, "set", id="lamp", on=True)
    assert node.reply(observer, n, mark)["ok"] is True
