"""The bench's firmware node: its id, key and peripherals, its inputs, and an MQTT inbox."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from microhome_tools import sim
from microhome_tools.broker import Mosquitto
from microhome_tools.common import node_key
from microhome_tools.demo import rom_code

NODE_ID = "bench"
KEY = bytes(range(32))
SENSORS: list[dict[str, Any]] = [
    {"id": "climate", "type": "dht22", "pin": 15, "interval": 2},
    {"id": "pir", "type": "motion", "pin": 16, "off_delay": 0},
    {"id": "lamp", "type": "led", "pin": 14, "freq": 1000},
    {"id": "status", "type": "status_led", "pin": "LED"},
]
# The heat exchanger: four DS18B20 on one 1-Wire bus; the air-quality node: an SCD4x and an
# AHT20 on one I2C bus. bus_hardware() simulates both.
ROMS = [rom_code(0xFF641E821600 + n) for n in range(1, 5)]
PROBES: list[dict[str, Any]] = [
    {"id": f"t{i}", "type": "ds18b20", "pin": 22, "rom": rom, "interval": 2}
    for i, rom in enumerate(ROMS, 1)
]
BUS = {"sda": 4, "scl": 5, "freq": 100000}
AIR: list[dict[str, Any]] = [
    {"id": "air", "type": "scd4x", "bus": BUS, "address": 0x62, "interval": 2},
    {"id": "room", "type": "aht20", "bus": BUS, "address": 0x38, "interval": 2},
]
TEMPERATURES = [60.5, 45.25, 10.0, 22.0625]


class Inbox:
    """Every message on microhome/#, with the time it arrived."""

    def __init__(self, broker: Mosquitto) -> None:
        import paho.mqtt.client as mqtt  # noqa: PLC0415

        self.lock = threading.Condition()
        self.messages: list[tuple[float, str, bytes]] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.subscribe("microhome/#", qos=1)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self.lock:
            self.messages.append((time.monotonic(), message.topic, bytes(message.payload)))
            self.lock.notify_all()

    def wait(self, topic: str, since: float, match: Any = None, timeout: float = 30) -> float:
        """When the first message on `topic` after `since` (matching) arrived."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for at, seen, payload in self.messages:
                    if at >= since and seen == topic and (match is None or match(payload)):
                        return at
                if not self.lock.wait(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"nothing on {topic} within {timeout} s")

    def publish_signed(self, topic: str, body: dict[str, Any], retain: bool = False) -> None:
        text = json.dumps({"n": time.time_ns() // 1000, **body}, separators=(",", ":"))
        signature = hmac.new(
            bench_node_key(), f"{topic}\n{text}".encode(), hashlib.sha256
        ).hexdigest()
        self.client.publish(topic, f"{signature} {text}", qos=1, retain=retain).wait_for_publish()

    def configure(self, base: str, config: dict[str, Any], timeout: float) -> float:
        """Push `config` (signed, retained) to the node at `base`, wait until it is applied;
        when it was sent."""
        sent = time.monotonic()
        self.publish_signed(f"{base}/config/set", config, retain=True)
        self.wait(f"{base}/config/state", sent, lambda p: json.loads(p)["ok"], timeout)
        return sent

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def sim_command(
    broker: Mosquitto, node_id: str, state: Path, key: bytes, *options: str
) -> list[str]:
    """The command line of `microhome sim` running node `node_id` from `state` on `broker`."""
    address = f"{broker.host}:{broker.port}"
    return sim.sim_command(address, state, "--node-id", node_id, "--key", key.hex(), *options)


def bus_hardware(absent: int | None = None) -> dict[str, Any]:
    """hw.json's simulated probes (probe `absent` gone) and I2C chips."""
    probes = {
        rom: {"temperature": t} | ({"absent": True} if i == absent else {})
        for i, (rom, t) in enumerate(zip(ROMS, TEMPERATURES, strict=True))
    }
    chips = {
        "0x62": {"chip": "scd4x", "co2": 812, "temperature": 22.5, "humidity": 41.0},
        "0x38": {"chip": "aht20", "temperature": 21.5, "humidity": 40.0},
    }
    return {"onewire": {"22": probes}, "i2c": {"4,5": chips}}


def bench_node_key() -> bytes:
    return node_key(KEY, NODE_ID)


def write_inputs(state: Path, motion: int, buses: dict[str, Any] | None = None) -> None:
    """The node's simulated inputs: the climate sensor, the motion pin, and `buses`
    (bus_hardware()) when given."""
    tmp = state / "hw.tmp"
    pins = {"15": {"temperature": 21.0, "humidity": 45.0}, "16": motion}
    tmp.write_text(json.dumps({"pins": pins, **(buses or {})}))
    tmp.replace(state / "hw.json")


def start_bench_node(state: Path, broker: Mosquitto, *options: str) -> subprocess.Popen[bytes]:
    """`microhome sim` running the bench node from the new directory `state`, inputs at rest."""
    state.mkdir()
    write_inputs(state, 0)
    return subprocess.Popen(
        sim_command(broker, NODE_ID, state, bench_node_key(), *options), stdout=subprocess.DEVNULL
    )
