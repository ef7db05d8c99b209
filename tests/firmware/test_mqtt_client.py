"""The node's MQTT client against a real mosquitto, under load and bad input (issue 12, 14)."""

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from microhome_tools.bench_heap import SIXTEEN as SIXTEEN_SENSORS
from microhome_tools.broker import Mosquitto
from microhome_tools.common import free_port
from microhome_tools.sim import install_firmware
from tests.firmware.conftest import CONFIG, HARDWARE, NodeFactory, online
from tests.firmware.harness import (
    BOARD_SIZED,
    MICROPYTHON,
    N_RESERVED_MS,
    Observer,
    SimNode,
    next_n,
    time_passes,
    wait_until,
)
from tests.firmware.wire import (
    MICROPYTHON_64,
    build_shim,
    connections,
    packet_length,
    trace_env,
)

SIXTEEN: dict[str, Any] = {
    "version": 2,
    "name": "Sixteen sensors on one node",
    "telemetry_interval": 60,
    "log_level": "I",
    "sensors": SIXTEEN_SENSORS,
}


# Traced nodes run the 64-bit micropython (as the shim): this heap is about 1.5 x theirs on a board.
TRACED_HEAPSIZE = "128K"
# 16 drivers need more heap than the nodes of the other tests (README: smallest heaps).
SIXTEEN_HEAPSIZE = "84K" if BOARD_SIZED else "124K"


@pytest.fixture(scope="session")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_shim(tmp_path_factory.mktemp("shim"))


def traced_node(
    start_node: NodeFactory, shim: Path, mosquitto: Mosquitto, tmp_path: Path, **kw: Any
) -> tuple[SimNode, Path]:
    """A node whose socket calls are traced: on the 64-bit micropython, like the shim."""
    trace = tmp_path / "wire.trace"
    extra = ("--micropython", MICROPYTHON_64, "--heapsize", TRACED_HEAPSIZE, *kw.pop("extra", ()))
    return start_node(env=trace_env(shim, trace, mosquitto.port), extra=extra, **kw), trace


def onlines(observer: Observer, node: SimNode, since: int = 0) -> int:
    return len([m for m in observer.on(node.topic("status"), since) if m.payload == b"online"])


def log_messages(observer: Observer, node: SimNode, since: int = 0) -> list[str]:
    return [
        entry["msg"]
        for message in observer.on(node.topic("log"), since)
        for entry in message.json()["entries"]
    ]


def test_every_packet_is_one_write_on_a_socket_with_tcp_nodelay(
    start_node: NodeFactory, observer: Observer, shim: Path, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    node, trace = traced_node(start_node, shim, mosquitto, tmp_path)
    node.set_hw(HARDWARE)
    online(observer, node)
    node.push_config(observer, CONFIG)
    assert observer.wait_json(node.topic("config/state"))["ok"]
    mark = observer.mark()
    n = node.command(observer, "set", id="lamp", on=True, brightness=99)
    assert node.reply(observer, n, mark)["ok"]
    observer.wait_json(node.topic("telemetry"), since=mark)

    found = connections(trace)
    assert found, "no connection to the broker was traced"
    for connection in found:
        assert connection.nodelay_before_first_write
        assert connection.writes[0][0] == 0x10  # CONNECT
        for write in connection.writes:
            assert packet_length(write) == len(write), f"not one whole packet: {write.hex()}"
    kinds = {write[0] & 0xF0 for write in found[0].writes}
    assert {0x10, 0x30, 0x40, 0x80} <= kinds  # CONNECT, PUBLISH, PUBACK, SUBSCRIBE


def test_a_report_longer_than_the_packet_buffer_goes_out_whole(
    start_node: NodeFactory, observer: Observer, shim: Path, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    """Reports are JSON written straight into the 768-byte packet buffer; a longer one (the
    refusal of sixteen bad sensors) in a buffer of its own, still one whole packet."""
    node, trace = traced_node(start_node, shim, mosquitto, tmp_path)
    online(observer, node)
    node.push_config(observer, CONFIG)
    assert observer.wait_json(node.topic("config/state"))["ok"]
    hostile = [{"id": f"Bad <b>{i}</b>\n\u00e9", "type": "relay", "pin": 99} for i in range(16)]
    node.push_config(observer, {**CONFIG, "version": 7, "sensors": hostile})
    state = observer.wait_json(node.topic("config/state"), lambda body: body["version"] == 7)
    assert not state["ok"]
    assert sum("Bad <b>" in error for error in state["errors"]) == 16
    assert len(json.dumps(state, ensure_ascii=False).encode()) > 768
    mark = observer.mark()
    n = node.command(observer, "set", id="lamp", on=True)  # the old configuration still runs
    assert node.reply(observer, n, mark)["ok"]
    assert onlines(observer, node) == 1

    (connection,) = connections(trace)
    for write in connection.writes:
        assert packet_length(write) == len(write), f"not one whole packet: {write.hex()}"
    assert max(len(write) for write in connection.writes) > 768


def test_reconnect_storm_connect_is_always_the_first_packet(
    start_node: NodeFactory, observer: Observer, shim: Path, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    node, trace = traced_node(start_node, shim, mosquitto, tmp_path)
    node.set_hw(HARDWARE)
    online(observer, node)
    node.push_config(observer, {**CONFIG, "log_level": "D", "telemetry_interval": 5})
    assert observer.wait_json(node.topic("config/state"))["ok"]
    # Another client with the node's id takes its session over, again and again: each time
    # mosquitto drops the node while it has QoS 1 log lines and replies on the way.
    for _ in range(12):
        for _ in range(5):
            node.command(observer, "announce")
        thief = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=node.node_id)
        thief.connect(mosquitto.host, mosquitto.port)
        thief.loop(0.2)
        thief.disconnect()
        time.sleep(0.3)
    mark = observer.mark()
    n = node.command(observer, "announce")
    assert node.reply(observer, n, mark, timeout=20)["ok"]

    found = connections(trace)
    assert len(found) >= 5, "the storm did not make the node reconnect"
    for connection in found:
        if connection.writes:
            assert connection.writes[0][0] == 0x10, connection.writes[0].hex()
    log = (mosquitto.workdir / "mosquitto.log").read_text(errors="replace")
    assert "protocol error" not in log.lower()


def test_largest_valid_config_is_applied_without_losing_the_connection(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = start_node(extra=("--heapsize", SIXTEEN_HEAPSIZE))
    online(observer, node)
    _, payload = node.push_config(observer, SIXTEEN)
    assert len(payload) > 1200
    state = observer.wait_json(node.topic("config/state"), timeout=15)
    assert state == {"version": 2, "ok": True, "errors": []}
    announce = observer.wait_json(node.topic("announce"), lambda body: body["cfg"] == 2)
    assert announce["cfg"] == 2
    mark = observer.mark()
    reply = node.command(observer, "set", id="led_light_num_02", brightness=10)
    assert node.reply(observer, reply, mark)["ok"]
    assert onlines(observer, node) == 1  # one connection all along
    telemetry = observer.wait_json(node.topic("telemetry"), since=mark, timeout=70)
    assert telemetry["boot"] == 1


def test_messages_far_over_the_limit_are_dropped_and_the_connection_kept(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = start_node()
    node.set_hw(HARDWARE)
    online(observer, node)
    node.push_config(observer, CONFIG)
    assert observer.wait_json(node.topic("config/state"))["ok"]
    mark = observer.mark()
    observer.publish("microhome/discover", b"x" * 20_000, retain=True)
    try:
        big = node.signed("cmd", {"n": next_n(), "cmd": "announce", "pad": "y" * 65_000})
        observer.publish(node.topic("cmd"), big)
        n = node.command(observer, "set", id="lamp", on=True)
        assert node.reply(observer, n, mark)["ok"]

        def dropped() -> list[str] | None:
            lines = [m for m in log_messages(observer, node, mark) if "dropped" in m]
            return lines if len(lines) == 2 else None

        lines = wait_until(dropped, 10, "one W line per dropped message")
        assert any("microhome/discover" in line and "20000 bytes" in line for line in lines)
        assert any(node.topic("cmd") in line for line in lines)
        assert onlines(observer, node) == 1
        assert observer.on(node.topic("status"), mark) == []
    finally:
        observer.publish("microhome/discover", b"", retain=True)


def test_node_sending_only_qos0_keeps_its_connection(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = start_node()  # keepalive 10 s
    node.set_hw(HARDWARE)
    online(observer, node)
    config = {
        **CONFIG,
        "log_level": "E",  # no QoS 1 log lines, so no PUBACKs come back
        "sensors": [{"id": "climate", "type": "dht22", "pin": 15, "interval": 2}],
    }
    node.push_config(observer, config)
    assert observer.wait_json(node.topic("config/state"))["ok"]
    mark = observer.mark()
    time.sleep(28)  # past 1.5 x keepalive, twice
    assert len(observer.on(node.topic("state/climate"), mark)) >= 10
    assert observer.on(node.topic("status"), mark) == []
    assert onlines(observer, node) == 1


def test_keepalive_zero_means_no_pings_and_no_reconnects(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = start_node(extra=("--keepalive", "0"))
    online(observer, node)
    mark = observer.mark()
    time.sleep(6)
    n = node.command(observer, "announce")
    assert node.reply(observer, n, mark)["ok"]
    assert observer.on(node.topic("status"), mark) == []
    assert onlines(observer, node) == 1


@pytest.fixture
def stoppable_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path_factory.mktemp("stoppable")).start()
    yield broker
    if broker.process:
        broker.process.send_signal(signal.SIGCONT)
    broker.stop()


def test_a_broker_that_stops_answering_is_left_after_an_unanswered_ping(
    stoppable_broker: Mosquitto, tmp_path: Path, vectors: dict[str, Any]
) -> None:
    keys = vectors["keys"]
    broker = stoppable_broker
    node = SimNode((broker.host, broker.port), tmp_path / "node", keys["node_id"], keys["node_key"])
    observer = Observer(broker.host, broker.port)
    try:
        node.start()
        online(observer, node)
        assert broker.process
        broker.process.send_signal(signal.SIGSTOP)  # the connection stays open, nothing answers
        wait_until(lambda: "no answer to PINGREQ" in node.console(), 30, "the node to give up")
        mark = observer.mark()
        broker.process.send_signal(signal.SIGCONT)
        online(observer, node, mark, timeout=40)
    finally:
        node.stop()
        observer.close()


def test_command_burst_every_command_is_answered_and_the_node_stays_up(
    configured: SimNode, observer: Observer
) -> None:
    node = configured
    mark = observer.mark()
    sent = []
    for i in range(100):
        body = {"n": next_n(), "cmd": "set", "id": "lamp", "on": bool(i % 2)}
        sent.append(body["n"])
        observer.client.publish(node.topic("cmd"), node.signed("cmd", body), qos=1)

    def answered() -> dict[int, Any] | None:
        replies = {m.json()["n"]: m.json() for m in observer.on(node.topic("reply"), mark)}
        return replies if set(sent) <= set(replies) else None

    replies = wait_until(answered, 60, "a reply to each of the 100 commands")
    for n in sent:
        reply = replies[n]
        assert reply["ok"] or reply["error"] == "busy", reply
    assert sum(reply["ok"] for reply in replies.values()) >= 8
    assert observer.on(node.topic("status"), mark) == []
    telemetry = observer.wait_json(node.topic("telemetry"), since=mark, timeout=10)
    assert telemetry["boot"] == 1
    n = node.command(observer, "set", id="lamp", on=True, brightness=255)
    assert node.reply(observer, n, mark)["ok"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('{"n": %d, "cmd": "set", "id": ["lamp"], "on": true}', "bad value: id"),
        ('{"n": %d, "cmd": "set", "id": {"lamp": 1}, "on": true}', "bad value: id"),
        ('{"n": %d, "cmd": "identify", "seconds": 1e999}', "bad value: seconds"),
        ('{"n": %d, "cmd": "x", "deep": ' + "[" * 290 + "]" * 290 + "}", None),
    ],
)
def test_signed_bodies_of_unexpected_shapes_are_answered(
    configured: SimNode, observer: Observer, body: str, error: str | None
) -> None:
    node = configured
    n = next_n()
    mark = observer.mark()
    observer.publish(node.topic("cmd"), node.signed("cmd", body % n))
    reply = node.reply(observer, n, mark)
    assert reply["ok"] is False
    if error:
        assert reply["error"] == error
    # still answering, on the same connection
    again = node.command(observer, "announce")
    assert node.reply(observer, again, mark)["ok"]
    assert observer.on(node.topic("status"), mark) == []


def test_deeply_nested_bodies_signed_or_not_are_answered(
    configured: SimNode, observer: Observer
) -> None:
    node = configured
    nested = "[" * 900 + "]" * 900  # about 1.8 KB: in the inbox, too deep for json.loads here
    mark = observer.mark()
    n = next_n()
    body = f'{{"n": {n}, "cmd": "announce", "x": {nested}}}'
    observer.publish(node.topic("cmd"), "0" * 64 + " " + body)  # unsigned
    # "busy" when it finds the inbox still holding the config: answered unchecked (protocol.md)
    assert node.reply(observer, n, mark)["error"] in ("bad signature", "busy")
    signed_n = next_n()
    observer.publish(node.topic("cmd"), node.signed("cmd", nested))
    observer.publish(node.topic("cmd"), node.signed("cmd", f'{{"x": {nested}, "n": {signed_n}}}'))
    replies = wait_until(
        lambda: (
            [m.json() for m in observer.on(node.topic("reply"), mark) if m.json()["n"] != n]
            if len(observer.on(node.topic("reply"), mark)) >= 3
            else None
        ),
        10,
        "an answer to both signed bodies",
    )
    assert all(reply["ok"] is False for reply in replies), replies
    again = node.command(observer, "announce")
    assert node.reply(observer, again, mark)["ok"]
    assert observer.on(node.topic("status"), mark) == []


def test_replay_protection_survives_a_power_cut_with_few_flash_writes(
    start_node: NodeFactory, observer: Observer, shim: Path, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    trace = tmp_path / "wire.trace"
    env = {**trace_env(shim, trace, mosquitto.port), "MQTT_TRACE_FILES": "data/n"}
    extra = ("--micropython", MICROPYTHON_64, "--heapsize", TRACED_HEAPSIZE)
    node = start_node(env=env, extra=extra)
    node.set_hw(HARDWARE)
    online(observer, node)
    node.push_config(observer, CONFIG)
    assert observer.wait_json(node.topic("config/state"))["ok"]
    mark = observer.mark()
    accepted = []
    for i in range(40):
        accepted.append(node.command(observer, "set", id="lamp", on=bool(i % 2)))
        assert node.reply(observer, accepted[-1], mark)["ok"]
    writes = [line for line in trace.read_text().splitlines() if line.startswith("F ")]
    assert 1 <= len(writes) <= 3, writes  # the config's n and a reserved mark, not one per command

    mark = observer.mark()
    os.kill(node.firmware_pid(), signal.SIGKILL)  # power cut
    observer.wait(node.topic("status"), lambda m: m.payload == b"offline", 5, mark)
    online(observer, node, mark)
    for n in (accepted[0], accepted[-1]):
        observer.publish(node.topic("cmd"), node.signed("cmd", {"n": n, "cmd": "announce"}))
        assert node.reply(observer, n, mark)["error"] == "replayed n"
    soon = next_n()  # within the reserved minute: refused too, the price of fewer writes
    observer.publish(node.topic("cmd"), node.signed("cmd", {"n": soon, "cmd": "announce"}))
    assert node.reply(observer, soon, mark)["error"] == "replayed n"
    time_passes(N_RESERVED_MS)
    later = node.command(observer, "announce")
    assert node.reply(observer, later, mark)["ok"]


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize("binary", [MICROPYTHON, MICROPYTHON_64], ids=["board-build", "64-bit"])
def test_a_wait_begun_with_the_heap_taken_does_not_crash_micropython(
    tmp_path: Path, binary: str
) -> None:
    """The client's socket reads and a driver's wait for its pin interrupt
    (tests/firmware/mp_poller_heap.py) with the heap taken but for 0, 1, 2... pieces. Before,
    they waited on MicroPython's poll whatever the heap; out of memory in its register() that
    leaves a half-made entry, and the interpreter crashed at its next poll (a board resets):
    any message arriving while the heap was taken could do it."""
    flash = tmp_path / "flash"
    install_firmware(flash)
    script = Path(__file__).with_name("mp_poller_heap.py")
    result = subprocess.run(
        [binary, "-X", "heapsize=96K", str(script), str(free_port())],
        cwd=tmp_path,
        env={**os.environ, "MICROPYPATH": f".frozen:{flash}:{flash / 'a'}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.returncode, result.stdout.split()[-1:]) == (0, ["ok"]), result.stderr
