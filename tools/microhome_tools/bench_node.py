"""The bench's firmware node: its id, key and peripherals, its inputs, and an MQTT inbox."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from microhome_tools.broker import Mosquitto
from microhome_tools.common import node_key

NODE_ID = "bench"
KEY = bytes(range(32))
SENSORS: list[dict[str, Any]] = [
    {"id": "climate", "type": "dht22", "pin": 15, "interval": 2},
    {"id": "pir", "type": "motion", "pin": 16, "off_delay": 0},
    {"id": "lamp", "type": "led", "pin": 14, "freq": 1000},
    {"id": "status", "type": "status_led", "pin": "LED"},
]


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
    return [sys.executable, "-m", "microhome_tools.cli", "sim", "--broker",
            f"{broker.host}:{broker.port}", "--node-id", node_id, "--state-dir", str(state),
            "--key", key.hex(), *options]  # fmt: skip


def bench_node_key() -> bytes:
    return node_key(KEY, NODE_ID)


def write_inputs(state: Path, motion: int) -> None:
    tmp = state / "hw.tmp"
    tmp.write_text(
        json.dumps({"pins": {"15": {"temperature": 21.0, "humidity": 45.0}, "16": motion}})
    )
    tmp.replace(state / "hw.json")


def start_bench_node(state: Path, broker: Mosquitto, *options: str) -> subprocess.Popen[bytes]:
    """`microhome sim` running the bench node from the new directory `state`, inputs at rest."""
    state.mkdir()
    write_inputs(state, 0)
    return subprocess.Popen(
        sim_command(broker, NODE_ID, state, bench_node_key(), *options), stdout=subprocess.DEVNULL
    )
