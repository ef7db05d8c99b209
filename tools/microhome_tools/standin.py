"""Stand-in nodes for the comparing bench: many nodes on one MQTT connection, in their own process.

Two fleets share one paho client (so neither side gets a faster connection):

- MicroHome stand-ins speak the node's side of the protocol: a retained `status` (online) and
  `announce`; a signed `config/set` is verified (HMAC, then `n`) and answered on
  `config/state`, followed by one state per configured sensor and a telemetry message; a signed
  `cmd` `set` is answered with the new `state/<id>` and a `reply`, as the firmware does.
- The peer is what a user would otherwise make with Home Assistant's MQTT discovery: per device
  a JSON-schema light with brightness (the lamp), an on/off light (the status LED), temperature
  and humidity sensors and a motion binary_sensor, with an availability topic; an echo client
  answers each light's command topic with its state, as a node would.

Driven over stdin, one JSON object a line; it answers each with one JSON line on stdout:
{"op": "microhome", "ids": [...]} · {"op": "peer", "ids": [...]} ·
{"op": "states", "side": "microhome"|"peer", "ids": [...], "rounds": k, "interval": s,
 "start": t} (climate states, a new temperature each round) · {"op": "counts"} · {"op": "quit"}.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt

from microhome_tools.common import node_key, parse_broker

SENSORS = [
    {"id": "climate", "type": "dht22", "pin": 15, "interval": 30},
    {"id": "pir", "type": "motion", "pin": 16, "off_delay": 0},
    {"id": "lamp", "type": "led", "pin": 14, "freq": 1000},
    {"id": "status", "type": "status_led", "pin": "LED"},
]
INITIAL_STATES: dict[str, dict[str, Any]] = {
    "dht22": {"temperature": 20.0, "humidity": 40.0},
    "motion": {"motion": False},
    "led": {"on": False, "brightness": 0},
    "status_led": {"on": False},
}
PEER_PREFIX = "peer"


def peer_discovery(device_id: str) -> dict[str, dict[str, Any]]:
    """The MQTT discovery configs of one peer device, by discovery topic."""
    base = f"{PEER_PREFIX}/{device_id}"
    device = {"identifiers": [device_id], "name": device_id, "manufacturer": "Bench"}
    common = {"availability_topic": f"{base}/status", "device": device}
    return {
        f"homeassistant/light/{device_id}/lamp/config": {
            **common,
            "name": "Lamp",
            "unique_id": f"{device_id}_lamp",
            "schema": "json",
            "brightness": True,
            "brightness_scale": 255,
            "supported_color_modes": ["brightness"],
            "command_topic": f"{base}/lamp/set",
            "state_topic": f"{base}/lamp/state",
        },
        f"homeassistant/light/{device_id}/status/config": {
            **common,
            "name": "Status",
            "unique_id": f"{device_id}_status",
            "schema": "json",
            "supported_color_modes": ["onoff"],
            "command_topic": f"{base}/status_led/set",
            "state_topic": f"{base}/status_led/state",
        },
        f"homeassistant/sensor/{device_id}/temperature/config": {
            **common,
            "name": "Temperature",
            "unique_id": f"{device_id}_temperature",
            "device_class": "temperature",
            "unit_of_measurement": "°C",
            "state_class": "measurement",
            "state_topic": f"{base}/climate/state",
            "value_template": "{{ value_json.temperature }}",
        },
        f"homeassistant/sensor/{device_id}/humidity/config": {
            **common,
            "name": "Humidity",
            "unique_id": f"{device_id}_humidity",
            "device_class": "humidity",
            "unit_of_measurement": "%",
            "state_class": "measurement",
            "state_topic": f"{base}/climate/state",
            "value_template": "{{ value_json.humidity }}",
        },
        f"homeassistant/binary_sensor/{device_id}/motion/config": {
            **common,
            "name": "Motion",
            "unique_id": f"{device_id}_motion",
            "device_class": "motion",
            "state_topic": f"{base}/pir/state",
            "value_template": "{{ 'ON' if value_json.motion else 'OFF' }}",
        },
    }


def announce(node_id: str, fleet_key: bytes) -> dict[str, Any]:
    return {
        "id": node_id,
        "name": node_id,
        "platform": "unix",
        "board": "stand-in",
        "fw": "1.0.0",
        "mpy": "1.24.1",
        "mac": "02:00:00:00:00:00",
        "ip": "127.0.0.1",
        "caps": ["dht22", "motion", "led", "status_led"],
        "cfg": 0,
        "key_id": hashlib.sha256(node_key(fleet_key, node_id)).hexdigest()[:8],
    }


class Fleet:
    """Every stand-in node and peer device, on one connection."""

    def __init__(self, host: str, port: int, fleet_key: bytes) -> None:
        self.fleet_key = fleet_key
        self.keys: dict[str, bytes] = {}
        self.last_n: dict[str, int] = {}
        self.counts = {"config_set": 0, "cmd": 0, "peer_cmd": 0, "refused": 0, "published": 0}
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-standins")
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(1000)
        self.client.on_message = self._on_message
        # As a node does (and paho does not): a reply is not held back by Nagle's algorithm
        # behind the PUBACK written just before it.
        self.client.on_socket_open = lambda _client, _userdata, sock: sock.setsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
        )
        self.client.connect(host, port, keepalive=120)
        self.client.subscribe(
            [
                ("microhome/+/cmd", 1),
                ("microhome/+/config/set", 1),
                (f"{PEER_PREFIX}/+/lamp/set", 1),
                (f"{PEER_PREFIX}/+/status_led/set", 1),
            ]
        )
        self.client.loop_start()

    def publish(self, topic: str, payload: Any, qos: int = 0, retain: bool = False) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self.client.publish(topic, text, qos=qos, retain=retain)
        self.counts["published"] += 1

    def add_microhome(self, ids: list[str]) -> None:
        for node_id in ids:
            self.keys[node_id] = node_key(self.fleet_key, node_id)
            self.publish(f"microhome/{node_id}/status", "online", qos=1, retain=True)
            self.publish(
                f"microhome/{node_id}/announce",
                announce(node_id, self.fleet_key),
                qos=1,
                retain=True,
            )

    def add_peer(self, ids: list[str]) -> None:
        for device_id in ids:
            for topic, config in peer_discovery(device_id).items():
                self.publish(topic, config, qos=1, retain=True)
            base = f"{PEER_PREFIX}/{device_id}"
            self.publish(f"{base}/status", "online", qos=1, retain=True)
            self.publish(f"{base}/climate/state", INITIAL_STATES["dht22"], retain=True)
            self.publish(f"{base}/pir/state", INITIAL_STATES["motion"], retain=True)
            self.publish(f"{base}/lamp/state", {"state": "OFF", "brightness": 0}, retain=True)
            self.publish(f"{base}/status_led/state", {"state": "OFF"}, retain=True)

    def states(self, side: str, ids: list[str], rounds: int, interval: float, start: float) -> int:
        """Climate states, a new temperature for every node each round; how many were sent."""
        sent = 0
        for round_index in range(rounds):
            due = time.monotonic() + interval
            value = {"temperature": round(start + round_index * 0.1, 1), "humidity": 40.0}
            for ident in ids:
                topic = (
                    f"microhome/{ident}/state/climate"
                    if side == "microhome"
                    else f"{PEER_PREFIX}/{ident}/climate/state"
                )
                self.publish(topic, value, retain=True)
                sent += 1
            time.sleep(max(0.0, due - time.monotonic()))
        return sent

    def _verified(self, node_id: str, topic: str, payload: bytes) -> dict[str, Any] | None:
        key = self.keys.get(node_id)
        signature, _, body = payload.decode(errors="replace").partition(" ")
        if key is None or not hmac.compare_digest(
            signature, hmac.new(key, f"{topic}\n{body}".encode(), hashlib.sha256).hexdigest()
        ):
            self.counts["refused"] += 1
            return None
        data = json.loads(body)
        if not isinstance(data, dict) or data.get("n", 0) <= self.last_n.get(node_id, 0):
            self.counts["refused"] += 1
            return None
        self.last_n[node_id] = data["n"]
        return data

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        topic: str = message.topic
        parts = topic.split("/")
        if parts[0] == PEER_PREFIX:
            self._on_peer_command(parts[1], parts[2], message.payload)
            return
        node_id = parts[1]
        if not message.payload:
            return
        with self.lock:
            body = self._verified(node_id, topic, message.payload)
        if body is None:
            return
        base = f"microhome/{node_id}"
        if parts[2] == "config":
            self.counts["config_set"] += 1
            ok = {"version": body.get("version"), "ok": True, "errors": []}
            self.publish(f"{base}/config/state", ok, qos=1, retain=True)
            for sensor in body.get("sensors", []):
                state = INITIAL_STATES.get(sensor.get("type"), {})
                self.publish(f"{base}/state/{sensor['id']}", state, retain=True)
            self.publish(
                f"{base}/telemetry",
                {
                    "uptime": 10,
                    "rssi": None,
                    "mem_free": 50000,
                    "mem_alloc": 40000,
                    "reset_cause": "power_on",
                },
            )
        elif body.get("cmd") == "set":
            self.counts["cmd"] += 1
            state = {"on": bool(body.get("on")), "brightness": int(body.get("brightness", 0))}
            self.publish(f"{base}/state/{body.get('id')}", state, retain=True)
            self.publish(f"{base}/reply", {"n": body["n"], "ok": True, "error": None}, qos=1)
        else:
            self.publish(f"{base}/reply", {"n": body["n"], "ok": True, "error": None}, qos=1)

    def _on_peer_command(self, device_id: str, light: str, payload: bytes) -> None:
        self.counts["peer_cmd"] += 1
        command = json.loads(payload)
        state: dict[str, Any] = {"state": command.get("state", "OFF")}
        if "brightness" in command:
            state["brightness"] = command["brightness"]
        self.publish(f"{PEER_PREFIX}/{device_id}/{light}/state", state, retain=True)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def serve(fleet: Fleet) -> None:
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        answer: dict[str, Any] = {"op": op}
        if op == "microhome":
            fleet.add_microhome(request["ids"])
        elif op == "peer":
            fleet.add_peer(request["ids"])
        elif op == "states":
            answer["sent"] = fleet.states(
                request["side"], request["ids"], request["rounds"], request["interval"],
                request["start"],
            )  # fmt: skip
        elif op == "counts":
            answer.update(fleet.counts)
        elif op == "quit":
            print(json.dumps(answer), flush=True)
            return
        print(json.dumps(answer), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", required=True, help="HOST:PORT")
    parser.add_argument("--fleet-key", required=True, help="hex")
    args = parser.parse_args(argv)
    host, port = parse_broker(args.broker)
    fleet = Fleet(host, port, bytes.fromhex(args.fleet_key))
    try:
        serve(fleet)
    finally:
        fleet.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
