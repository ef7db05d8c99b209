"""MicroHome end to end: a real `hass`, mosquitto, the integration's FTP server and a real
firmware node on micropython, driven the way a user drives them (REST and websocket APIs).
The node talks TLS to the broker (a CA made here), Home Assistant plain MQTT on the LAN port.

The tests share one stack and run in order: each builds on what the one before did.
"""

import asyncio
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_socket

from microhome_tools.broker import HA_USER, Mosquitto
from microhome_tools.certs import CertificateAuthority
from microhome_tools.demo import (
    OTA_HEAPSIZE,
    DemoNode,
    DemoSensor,
    accept_discovered,
    configure,
    rom_code,
    ws_command,
)
from microhome_tools.hass_runner import HassError, HassRunner
from microhome_tools.release import build_bundle
from microhome_tools.sim import sim_command

NODE = DemoNode(
    "e2e-kitchen",
    "Kitchen",
    "rp2",
    [
        DemoSensor("dht22", "Climate", 15, {"interval": 2}),
        DemoSensor("motion", "Motion", 16, {"off_delay": 1}),
        DemoSensor("led", "Lamp", 14, {"freq": 1000}),
    ],
)
USER, PASSWORD = "e2e", "e2e-password-1"
# The broker runs under the ACL of docs/security.md: one login per node, one for HA.
BROKER_LOGINS = {HA_USER: "ha-broker-password", NODE.node_id: "node-broker-password"}
# An update's heap, and the TLS context and socket on top (README, "TLS to the broker").
NODE_HEAPSIZE = f"{int(OTA_HEAPSIZE.rstrip('K')) + 8}K"

pytestmark = pytest.mark.usefixtures("socket_enabled")


UNSET = ("unknown", "unavailable")


def wait_for[T](check: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, HassError, KeyError, ValueError) as err:
            last = err
        else:
            if last is not None and last is not False:
                return last
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")


@dataclass
class Stack:
    broker: Mosquitto
    hass: HassRunner
    node_dir: Path
    node: subprocess.Popen[bytes]
    entry_id: str = ""
    buses: dict[str, Any] = field(default_factory=dict)  # the simulated I2C and 1-Wire devices

    def states(self) -> dict[str, dict[str, Any]]:
        return {
            state["entity_id"]: state
            for state in self.hass.request("GET", "/api/states")
            if state["entity_id"].split(".", 1)[1].startswith("kitchen")
        }

    def state(self, suffix: str) -> dict[str, Any] | None:
        return next((state for eid, state in self.states().items() if eid.endswith(suffix)), None)

    def set_inputs(self, pins: dict[str, Any]) -> None:
        path = self.node_dir / "hw.json"
        path.with_suffix(".tmp").write_text(json.dumps({"pins": pins, **self.buses}))
        path.with_suffix(".tmp").replace(path)

    def outputs(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.node_dir / "hw_out.json").read_text()))
        except OSError, ValueError:
            return {}

    def ws(self, message: dict[str, Any]) -> Any:
        return asyncio.run(ws_command(self.hass, message))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    pytest_socket.enable_socket()  # the per-test socket_enabled comes after a module fixture
    root = tmp_path_factory.mktemp("e2e")
    fleet_key = bytes(range(32))
    (root / "broker").mkdir()
    ca = CertificateAuthority(root, "e2e-ca")
    issued = ca.issue("broker", ["127.0.0.1"])
    broker = Mosquitto(root / "broker", users=BROKER_LOGINS, tls=(issued.cert, issued.key)).start()
    hass = HassRunner(root / "config", fleet_key=fleet_key)
    hass.start()
    node_dir = root / "node"
    node_dir.mkdir()
    (node_dir / "hw.json").write_text(
        json.dumps({"pins": {"15": {"temperature": 21.5, "humidity": 40.0}, "16": 0}})
    )
    console = (root / "node.log").open("wb")
    node = subprocess.Popen(
        sim_command(
            f"{broker.host}:{broker.tls_port}",
            node_dir,
            "--mqtt-tls",
            "--ca",
            str(ca.pem),
            "--node-id",
            NODE.node_id,
            "--platform",
            NODE.platform,
            "--name",
            NODE.name,
            "--fleet-key",
            fleet_key.hex(),
            "--heapsize",
            NODE_HEAPSIZE,
            "--mqtt-user",
            NODE.node_id,
            "--mqtt-password",
            BROKER_LOGINS[NODE.node_id],
        ),
        stdout=console,
        stderr=subprocess.STDOUT,
    )
    try:
        hass.onboard(USER, PASSWORD)
        hass.add_mqtt_broker(
            broker.host, broker.port, username=HA_USER, password=BROKER_LOGINS[HA_USER]
        )
        hass.wait_for_entry("mqtt")
        yield Stack(broker, hass, node_dir, node)
    finally:
        node.terminate()
        try:
            node.wait(15)
        except subprocess.TimeoutExpired:
            node.kill()
        console.close()
        hass.stop()
        broker.stop()
        log = hass.output_tail(2000)
        problems = [
            line
            for line in log.splitlines()
            if "custom_components.microhome" in line and (" ERROR " in line or "Traceback" in line)
        ]
        assert not problems, "\n".join(problems)


def test_node_is_discovered_and_added(stack: Stack) -> None:
    entries = accept_discovered(stack.hass, {NODE.node_id}, timeout=60)
    broker_log = (stack.broker.workdir / "mosquitto.log").read_text(errors="replace")
    assert f"on port {stack.broker.tls_port}" in broker_log  # the node came in over TLS
    stack.entry_id = entries[NODE.node_id]
    entry = next(e for e in stack.hass.config_entries("microhome"))
    assert (entry["title"], entry["state"]) == ("Kitchen", "loaded")


def test_options_flow_config_reaches_the_node(stack: Stack) -> None:
    configure(stack.hass, stack.entry_id, NODE)
    temperature = wait_for(
        lambda: stack.state("climate_temperature"), 30, "the DHT22 temperature entity"
    )
    wait_for(
        lambda: (s := stack.state("climate_temperature")) and s["state"] == "21.5",
        30,
        f"21.5 °C from the node (was {temperature['state']})",
    )
    assert stack.state("climate_humidity")["state"] == "40.0"  # type: ignore[index]
    stack.set_inputs({"15": {"temperature": 23.4, "humidity": 41.0}, "16": 1})
    wait_for(lambda: (s := stack.state("_motion")) and s["state"] == "on", 10, "motion detected")
    wait_for(
        lambda: (s := stack.state("climate_temperature")) and s["state"] == "23.4",
        10,
        "the new temperature",
    )


def test_bus_devices_through_the_options_flow(stack: Stack) -> None:
    """An AHT20 on an I2C bus, and a DS18B20 that the node's scan finds on its 1-Wire bus and
    the user names, added through the real options flow; their values reach the entities."""
    probe, other = rom_code(0xFF641E821601), rom_code(0xFF641E821602)
    stack.buses = {
        "i2c": {"4,5": {"0x38": {"chip": "aht20", "temperature": 22.5, "humidity": 48.0}}},
        "onewire": {"22": {probe: {"temperature": 61.5}, other: {"temperature": 12.25}}},
    }
    stack.set_inputs({"15": {"temperature": 23.4, "humidity": 41.0}, "16": 0})
    bus = {"sda": "4", "scl": "5", "i2c_freq": 100000, "address": "56"}
    devices = DemoNode(
        NODE.node_id,
        NODE.name,
        NODE.platform,
        [
            DemoSensor("aht20", "Room", None, {**bus, "interval": 2, "model": "aht20"}),
            DemoSensor("ds18b20", "Probes", 22, {"interval": 2}, {probe: "Hot in", other: ""}),
        ],
    )
    configure(stack.hass, stack.entry_id, devices)
    room = wait_for(
        lambda: (s := stack.state("room_temperature")) and s["state"] not in UNSET and s,
        30,
        "the AHT20's temperature",
    )
    assert abs(float(room["state"]) - 22.5) < 0.05
    assert room["attributes"]["unit_of_measurement"] == "°C"
    assert room["attributes"]["device_class"] == "temperature"
    humidity = wait_for(lambda: stack.state("room_humidity"), 10, "the AHT20's humidity")
    assert humidity["attributes"]["state_class"] == "measurement"
    hot = wait_for(
        lambda: (s := stack.state("hot_in_temperature")) and s["state"] == "61.5" and s,
        30,
        "the named probe's temperature",
    )
    assert hot["attributes"]["friendly_name"] == "Kitchen Hot in temperature"
    assert not any(s["state"] == "12.25" for s in stack.states().values())  # left unnamed


def test_light_service_dims_the_nodes_pwm(stack: Stack) -> None:
    lamp = wait_for(lambda: stack.state("_lamp"), 10, "the lamp entity")
    stack.hass.request(
        "POST",
        "/api/services/light/turn_on",
        {"entity_id": lamp["entity_id"], "brightness": 128},
    )
    duty = wait_for(
        lambda: stack.outputs().get("pwm", {}).get("14", {}).get("duty_u16"), 10, "PWM on 14"
    )
    assert 0 < duty < 65535
    state = wait_for(
        lambda: (s := stack.state("_lamp")) and s["state"] == "on" and s, 10, "lamp echoed on"
    )
    assert state["attributes"]["brightness"] == 128
    stack.hass.request("POST", "/api/services/light/turn_off", {"entity_id": lamp["entity_id"]})
    wait_for(lambda: stack.outputs()["pwm"]["14"]["duty_u16"] == 0, 10, "PWM off after turn_off")


def test_log_panel_api_returns_the_nodes_lines(stack: Stack) -> None:
    result = wait_for(
        lambda: stack.ws({"type": "microhome/logs/list", "nodes": [NODE.node_id]}),
        20,
        "log lines",
    )
    messages = [entry["message"] for entry in result["entries"]]
    assert any("boot" in message for message in messages), messages[:20]
    nodes = stack.ws({"type": "microhome/nodes/list"})
    assert any(node["id"] == NODE.node_id and node["online"] for node in nodes["nodes"])


def test_home_assistant_restart_keeps_everything(stack: Stack) -> None:
    signal = wait_for(
        lambda: (s := stack.state("_signal_strength")) and s["state"] not in UNSET and s,
        75,
        "the node's telemetry (every 60 s)",
    )
    lines_before = stack.ws({"type": "microhome/logs/list", "nodes": [NODE.node_id]})["entries"]
    stack.hass.restart()
    stack.hass.login(USER, PASSWORD)
    stack.hass.wait_until_running()
    assert stack.node.poll() is None, "the node kept running"
    # The node sends no telemetry for up to a minute: the last value was kept.
    restored = wait_for(
        lambda: (s := stack.state("_signal_strength")) and s["state"] != "unavailable" and s,
        30,
        "the signal strength back after the restart",
    )
    assert restored["state"] == signal["state"]
    wait_for(
        lambda: (s := stack.state("climate_temperature")) and s["state"] == "23.4",
        30,
        "the temperature back after the restart",
    )
    lines_after = stack.ws({"type": "microhome/logs/list", "nodes": [NODE.node_id]})["entries"]
    kept = {(e["boot"], e["seq"]) for e in lines_after}
    assert {(e["boot"], e["seq"]) for e in lines_before} <= kept


def test_broker_restart_brings_the_node_back(stack: Stack) -> None:
    stack.broker.stop()
    wait_for(
        lambda: (s := stack.state("climate_temperature")) and s["state"] == "unavailable",
        30,
        "entities unavailable while the broker is down",
    )
    time.sleep(3)
    stack.broker.start()
    wait_for(
        lambda: (s := stack.state("climate_temperature")) and s["state"] not in (
            "unavailable", "unknown"
        ),
        60,
        "the node back after the broker restart",
    )  # fmt: skip
    stack.set_inputs({"15": {"temperature": 19.0, "humidity": 50.0}, "16": 0})
    wait_for(
        lambda: (s := stack.state("climate_temperature")) and s["state"] == "19.0",
        20,
        "fresh readings after the broker restart",
    )


def test_firmware_update_through_the_update_entity(stack: Stack) -> None:
    firmware = stack.hass.config_dir / "microhome" / "firmware"
    build_bundle(Path(__file__).resolve().parents[2] / "micropython", firmware, "9.9.9")
    update = wait_for(lambda: stack.state("_firmware"), 10, "the update entity")
    installed = update["attributes"]["installed_version"]
    stack.hass.request(
        "POST",
        "/api/services/update/install",
        {"entity_id": update["entity_id"], "version": "9.9.9"},
        timeout=330,
    )
    done = wait_for(
        lambda: (
            (s := stack.state("_firmware"))
            and s["attributes"]["installed_version"] == "9.9.9"
            and s
        ),
        60,
        "the node running 9.9.9",
    )
    assert installed != "9.9.9"
    assert done["attributes"]["in_progress"] is False
    wait_for(
        lambda: (s := stack.state("climate_temperature")) and s["state"] == "19.0",
        30,
        "readings from the updated node",
    )
