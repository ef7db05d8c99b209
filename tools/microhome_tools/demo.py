"""`microhome demo`: Home Assistant, an MQTT broker and five simulated nodes, all real; two
of them follow one profile.

State lives in `.demo/` (the broker's retained messages, Home Assistant's configuration, each
node's flash), so a second run carries on where the first stopped. Ctrl-C stops everything.
"""

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microhome_tools import REPO
from microhome_tools.broker import Mosquitto
from microhome_tools.common import free_port
from microhome_tools.hass_runner import HassError, HassRunner
from microhome_tools.sim import sim_command

USERNAME = "demo"
# A board's heap in which the demo's nodes, the bus nodes too, run and update on the 32-bit
# micropython (80K at least; docs/firmware.md, "Memory").
OTA_HEAPSIZE = "88K"


@dataclass
class DemoSensor:
    """A sensor as the options flow asks for it, and its simulated hardware.

    On an I2C bus: pin None, the bus and address in settings. DS18B20 probes: the bus's pin,
    and probes, the name the user gives each ROM code the node's scan finds.
    """

    type: str
    name: str
    pin: int | str | None
    settings: dict[str, Any] = field(default_factory=dict)
    probes: dict[str, str] = field(default_factory=dict)


def rom_code(serial: int) -> str:
    """The ROM code of a DS18B20 (family 0x28) with a 6-byte serial number and its CRC-8."""
    data = bytes([0x28]) + serial.to_bytes(6, "big")
    crc = 0
    for byte in data:
        for bit in range(8):
            crc = (crc >> 1) ^ 0x8C if (crc ^ (byte >> bit)) & 1 else crc >> 1
    return (data + bytes([crc])).hex()


# The heat exchanger's probes: hot side in and out, cold side in and out.
HEAT_EXCHANGER = {
    rom_code(0x0000_16_82_1E_64 + n): name
    for n, name in enumerate(("T1 hot in", "T2 hot out", "T3 cold in", "T4 cold out"))
}
LIVING_ROOM_BUS = {"sda": "4", "scl": "5", "i2c_freq": 100000}


@dataclass
class DemoNode:
    node_id: str
    name: str
    platform: str
    sensors: list[DemoSensor]


LIVING_ROOM = [
    DemoSensor("dht22", "Climate", 15, {"interval": 10}),
    DemoSensor("motion", "Motion", 16, {"off_delay": 10}),
    DemoSensor("led", "Lamp", 14, {"freq": 1000}),
    DemoSensor("status_led", "Status", "LED"),
    DemoSensor("scd4x", "Air", None, {**LIVING_ROOM_BUS, "address": "98", "interval": 10}),
    DemoSensor(
        "aht20",
        "Room",
        None,
        {**LIVING_ROOM_BUS, "address": "56", "interval": 10, "model": "aht20"},
    ),
]
HALLWAY = [
    DemoSensor("motion", "Motion", 34, {"off_delay": 10}),
    DemoSensor("led", "Night light", 13, {"freq": 1000}),
]
CELLAR = [DemoSensor("ds18b20", "Heat exchanger", 4, {"interval": 10}, HEAT_EXCHANGER)]
NODES = [
    DemoNode("living-room", "Living room", "rp2", LIVING_ROOM),
    DemoNode("hallway", "Hallway", "esp32", HALLWAY),
    DemoNode("cellar", "Heat exchanger cellar", "esp32", CELLAR),
]
# Two nodes wired the same way follow one profile, made of the first one's configuration.
ROOM_SENSOR = [
    DemoSensor("dht22", "Climate", 15, {"interval": 10}),
    DemoSensor("led", "Lamp", 14, {"freq": 1000}),
]
PROFILE_NAME = "Room sensor"
PROFILE_NODES = [
    DemoNode("bedroom", "Bedroom", "rp2", ROOM_SENSOR),
    DemoNode("study", "Study", "rp2", ROOM_SENSOR),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=REPO / ".demo", help="state directory")
    parser.add_argument("--port", type=int, default=8123, help="Home Assistant's HTTP port")
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument(
        "--exit-when-ready",
        action="store_true",
        help="stop everything once the nodes are configured (for scripts)",
    )


def pick_port(wanted: int) -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind it
        try:
            sock.bind(("127.0.0.1", wanted))
        except OSError:
            return free_port()
    return wanted


class Hardware:
    """Plausible inputs for every simulated node: drifting climate, motion now and then."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.motion_until: dict[tuple[str, int | str], float] = {}
        self.rng = random.Random()

    def write(self, node: DemoNode, now: float) -> None:
        pins: dict[str, Any] = {}
        buses: dict[str, Any] = {}
        wave = math.sin(now / 600.0)
        for index, sensor in enumerate(node.sensors):
            if sensor.type == "ds18b20":
                # hot water cools from 60 to 45 C while the cold side warms from 10 to 22 C
                hot, cold = 60.0 + 2.0 * wave, 10.0 + 1.0 * wave
                temperatures = (hot, hot - 15.0, cold, cold + 12.0)
                buses.setdefault("onewire", {})[str(sensor.pin)] = {
                    rom: {"temperature": round(t + self.rng.uniform(-0.1, 0.1), 2)}
                    for rom, t in zip(sensor.probes, temperatures, strict=True)
                }
                continue
            if sensor.pin is None:  # on the I2C bus
                bus = f"{sensor.settings['sda']},{sensor.settings['scl']}"
                buses.setdefault("i2c", {}).setdefault(bus, {})[
                    f"0x{int(sensor.settings['address']):02x}"
                ] = {
                    "chip": sensor.type,
                    "temperature": round(21.0 + wave + self.rng.uniform(-0.1, 0.1), 2),
                    "humidity": round(45.0 - 5.0 * wave, 1),
                    "co2": round(650 + 250 * wave + self.rng.uniform(-10, 10)),
                }
                continue
            if sensor.type == "dht22":
                base = 21.0 if node.platform == "rp2" else 12.0 + 6.0 * index
                wave = math.sin(now / 600.0 + index)
                pins[str(sensor.pin)] = {
                    "temperature": round(base + 1.5 * wave + self.rng.uniform(-0.1, 0.1), 1),
                    "humidity": round(45.0 - 8.0 * wave + self.rng.uniform(-0.5, 0.5), 1),
                }
            elif sensor.type == "motion":
                key = (node.node_id, sensor.pin)
                if now > self.motion_until.get(key, 0) + 20 and self.rng.random() < 0.05:
                    self.motion_until[key] = now + self.rng.uniform(2, 6)
                pins[str(sensor.pin)] = int(now < self.motion_until.get(key, 0))
        path = self.state_dir / node.node_id / "hw.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pins": pins, **buses}))
        tmp.replace(path)


async def ws_command(runner: HassRunner, message: dict[str, Any]) -> Any:
    """One websocket command as the logged-in user."""
    import aiohttp  # noqa: PLC0415

    assert runner.tokens
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{runner.base_url}/api/websocket") as ws,
    ):
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": runner.tokens.access_token})
        auth = await ws.receive_json()
        if auth.get("type") != "auth_ok":
            raise HassError(f"websocket auth failed: {auth}")
        await ws.send_json({"id": 1, **message})
        reply = await ws.receive_json()
        if not reply.get("success"):
            raise HassError(f"{message['type']}: {reply.get('error')}")
        return reply.get("result")


def node_entries(runner: HassRunner) -> dict[str, str]:
    """Node id -> config entry id, from the device registry."""
    devices = asyncio.run(ws_command(runner, {"type": "config/device_registry/list"}))
    return {
        identifier[1]: device["primary_config_entry"]
        for device in devices
        for identifier in device["identifiers"]
        if identifier[0] == "microhome"
    }


def accept_discovered(
    runner: HassRunner, node_ids: set[str], timeout: float = 60
) -> dict[str, str]:
    """Confirm the discovery flows of these nodes; returns node id -> config entry id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = node_entries(runner)
        if node_ids <= entries.keys():
            return entries
        flows = asyncio.run(ws_command(runner, {"type": "config_entries/flow/progress"}))
        for flow in flows:
            if flow["handler"] == "microhome" and flow["context"].get("unique_id") in node_ids:
                runner.request("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {})
        time.sleep(1)
    raise HassError(f"nodes not discovered within {timeout:.0f} s: {node_ids}")


def configure(runner: HassRunner, entry_id: str, node: DemoNode) -> None:
    """Add the node's peripherals through the options flow in one trip, as a user would in
    the UI; the node gets one configuration."""
    flow = runner.request("POST", "/api/config/config_entries/options/flow", {"handler": entry_id})
    path = f"/api/config/config_entries/options/flow/{flow['flow_id']}"
    for sensor in node.sensors:
        step = runner.request("POST", path, {"next_step_id": "add_peripheral"})
        step = runner.request("POST", path, {"type": sensor.type})
        if sensor.probes:  # the node scans the pin; the probes found are named
            step = runner.request("POST", path, {"pin": str(sensor.pin), **sensor.settings})
            if step.get("step_id") == "probes":
                step = runner.request("POST", path, sensor.probes)
        else:
            pin = {} if sensor.pin is None else {"pin": str(sensor.pin)}
            step = runner.request("POST", path, {"name": sensor.name, **pin, **sensor.settings})
        if step.get("type") != "menu":
            raise HassError(f"adding {sensor.name} to {node.name}: {step}")
    step = runner.request("POST", path, {"next_step_id": "finish"})
    if step.get("type") != "create_entry":
        raise HassError(f"saving the configuration of {node.name}: {step}")


def follow_profile(runner: HassRunner, entries: dict[str, str]) -> None:
    """Configure the first profile node, make its configuration the profile, and have the
    others follow it (the panel's Nodes page does the same)."""
    first, *others = PROFILE_NODES
    configure(runner, entries[first.node_id], first)
    message = {"type": "microhome/profiles/create", "name": PROFILE_NAME}
    profile = asyncio.run(ws_command(runner, message | {"entry_id": entries[first.node_id]}))
    message = {"type": "microhome/nodes/apply_profile", "profile": profile["profile"]["id"]}
    entry_ids = [entries[node.node_id] for node in others]
    asyncio.run(ws_command(runner, message | {"entry_ids": entry_ids}))


def run(args: argparse.Namespace) -> int:
    state: Path = args.dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    key_file = state / "fleet_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    fleet_key = key_file.read_text().strip()
    credentials_file = state / "credentials.json"
    credentials = json.loads(credentials_file.read_text()) if credentials_file.exists() else {}
    configured_file = state / "configured.json"
    configured: list[str] = (
        json.loads(configured_file.read_text()) if configured_file.exists() else []
    )

    children: list[subprocess.Popen[bytes]] = []
    broker: Mosquitto | None = None
    runner: HassRunner | None = None

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        broker_dir = state / "mosquitto"
        broker_dir.mkdir(exist_ok=True)
        if Mosquitto.binary() is None:
            print("No MQTT broker: install mosquitto (scripts/env provides it).")
            return 1
        broker = Mosquitto(broker_dir, pick_port(args.mqtt_port), persist=True).start()
        print(f"MQTT broker: mosquitto on {broker.host}:{broker.port}")

        runner = HassRunner(
            state / "config", pick_port(args.port), fleet_key=bytes.fromhex(fleet_key)
        )
        print(f"Starting Home Assistant in {runner.config_dir} ...")
        runner.start()
        if credentials.get("username"):
            runner.login(credentials["username"], credentials["password"])
        else:
            password = secrets.token_urlsafe(9)
            runner.onboard(USERNAME, password, name="Demo")
            credentials = {"username": USERNAME, "password": password}
        credentials["url"] = runner.base_url
        credentials_file.write_text(json.dumps(credentials, indent=2) + "\n")
        if not runner.config_entries("mqtt"):
            runner.add_mqtt_broker(broker.host, broker.port)
        runner.wait_for_entry("mqtt")

        hardware = Hardware(state / "nodes")
        started = time.monotonic()
        for node in NODES + PROFILE_NODES:
            hardware.write(node, time.time())
            command = sim_command(
                f"{broker.host}:{broker.port}", state / "nodes" / node.node_id,
                "--node-id", node.node_id, "--platform", node.platform, "--name", node.name,
                "--fleet-key", fleet_key, "--heapsize", OTA_HEAPSIZE,
            )  # fmt: skip
            children.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
            )
        print(f"Started {len(NODES + PROFILE_NODES)} simulated nodes on the real firmware.")

        entries = accept_discovered(runner, {node.node_id for node in NODES + PROFILE_NODES})
        for node in NODES:
            if node.node_id not in configured:
                configure(runner, entries[node.node_id], node)
                configured.append(node.node_id)
                configured_file.write_text(json.dumps(configured))
        if PROFILE_NODES[0].node_id not in configured:
            follow_profile(runner, entries)
            configured.extend(node.node_id for node in PROFILE_NODES)
            configured_file.write_text(json.dumps(configured))
        print(f"Nodes discovered and configured in {time.monotonic() - started:.0f} s.")
        print_welcome(runner.base_url, credentials, state)
        if args.exit_when_ready:
            return 0
        while all(child.poll() is None for child in children):
            now = time.time()
            for node in NODES + PROFILE_NODES:
                hardware.write(node, now)
            time.sleep(2)
        print("A simulated node stopped; see .demo/nodes/*/console.log")
        return 1
    except KeyboardInterrupt:
        print("\nStopping ...")
        return 0
    except HassError as err:
        print(f"Home Assistant: {err}")
        if runner:
            print(runner.output_tail())
        return 1
    finally:
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        if runner:
            runner.stop()
        if broker:
            broker.stop()


def print_welcome(url: str, credentials: dict[str, Any], state: Path) -> None:
    print(
        f"""
MicroHome demo is running: {url}
  user: {credentials["username"]}   password: {credentials["password"]}
  (also in {state / "credentials.json"})

Try:
  - Overview: the living room (with CO2 on I2C), hallway and cellar nodes; the cellar is a
    heat exchanger with four DS18B20 probes T1-T4 on one 1-Wire bus (README: its efficiency).
  - MicroHome panel > Nodes: the bedroom and study nodes follow the profile "Room sensor".
  - Dim the living room lamp: its PWM duty follows in {state}/nodes/living-room/hw_out.json.
  - Open the MicroHome panel in the sidebar: every node's log, live.
  - Settings > Devices > a node > Configure: add, change or remove sensors at run time.
  - Update a node's firmware: build a newer bundle with
      scripts/env microhome release --version 0.2.0 --out {state}/config/microhome/firmware
    then Settings > Updates (or the microhome.ota_update action) installs it over FTP.

Ctrl-C stops everything; run `make demo` again to carry on where you left off."""
    )
