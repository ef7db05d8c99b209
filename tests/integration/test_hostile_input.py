"""Hostile payloads from a node, through a real mosquitto and Home Assistant's real MQTT client.

Each payload is one the fuzz storm of issue 13 found harmful. Home Assistant must drop it
with one warning per topic kind (then debug lines), keep every entity, the device registry
and the log store as they were and savable, and keep websocket subscribers working.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry, flush_store
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.microhome.const import DOMAIN
from custom_components.microhome.logs import DATA_LOGS, STORAGE_KEY
from tests.broker import Mosquitto
from tests.real_mqtt import async_setup_real_mqtt, wait_for

from .conftest import NODE_ID, PREFIX, entity_id, node_device

pytestmark = pytest.mark.usefixtures("socket_enabled", "mock_hass_config")

TELEMETRY = {"uptime": 10, "rssi": -61, "mem_free": 80000, "mem_alloc": 40000}
GOOD_TELEMETRY = TELEMETRY | {"reset_cause": "power_on", "ip": "192.168.1.50"}

# (topic suffix, raw JSON text): every one must be dropped whole.


def log_entry(**fields: Any) -> str:
    """A `log` payload with one entry; fields are raw JSON text for the entry's values."""
    values = {"seq": "0", "t": "1", "lvl": '"E"', "src": '"x"', "msg": '"m"'} | fields
    entry = ", ".join(f'"{name}": {value}' for name, value in values.items())
    return f'{{"boot": 1, "entries": [{{{entry}}}]}}'


HOSTILE: list[tuple[str, str]] = [
    ("log", log_entry(t="1e308")),
    ("log", log_entry(t=str(10**308))),
    ("log", f'{{"boot": {2**64}, "entries": []}}'),
    ("log", log_entry(seq=str(2**64))),
    ("log", log_entry(t=str(2**64))),
    ("log", "[" * 20000),
    *(
        ("telemetry", json.dumps(GOOD_TELEMETRY)[:-1] + f', "rssi": {rssi}}}')
        for rssi in ("NaN", "Infinity", "-Infinity", "9" * 400, str(2**64), "1e400")
    ),
    *(
        ("telemetry", json.dumps(GOOD_TELEMETRY | {"ip": ip}))
        for ip in (
            "<script>alert(1)</script>",
            "10.0.0.1\n2026-12-02 ERROR forged",
            "\x1b[31m10.0.0.1",
            "1" * 300,
            "\ud800",
            "fe80::1%eth0",
            "999.1.1.1",
        )
    ),
    ("telemetry", json.dumps(GOOD_TELEMETRY | {"uptime": 2**64})),
    ("telemetry", json.dumps(GOOD_TELEMETRY | {"mem_free": -1})),
    ("telemetry", json.dumps(GOOD_TELEMETRY | {"reset_cause": "a\nb"})),
]


def hostile_announces(announce: dict[str, Any]) -> list[str]:
    """Announces with a lone surrogate, garbage versions or markup in one field."""
    cases: list[dict[str, Any]] = [
        {"board": "\ud800"},
        {"board": "Pico\nW"},
        {"board": "x" * 65},
        {"fw": "\ud800"},
        {"fw": "0.1.0<script>"},
        {"fw": "9.9.9\n"},
        {"fw": "1.2"},
        {"mpy": "1.24.1 <b>"},
        {"name": "Kitchen\u202e"},
        {"name": "\ud83d"},
        {"mac": "not a mac"},
        {"ip": "<script>"},
        {"key_id": "\ud800" * 8},
        {"caps": ["<img>"]},
        {"cfg": 2**64},
    ]
    return [json.dumps(announce | case) for case in cases]


class Node:
    """A paho client publishing what a hostile node would."""

    def __init__(self, broker: Mosquitto) -> None:
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=NODE_ID)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, suffix: str, payload: str | bytes, retain: bool = False) -> None:
        self.client.publish(f"{PREFIX}/{suffix}", payload, qos=1, retain=retain).wait_for_publish(5)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def node(mosquitto: Mosquitto) -> Iterator[Node]:
    publisher = Node(mosquitto)
    yield publisher
    publisher.stop()


def dropped_warnings(caplog: pytest.LogCaptureFixture, topic_kind: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING
        and "Dropped" in record.getMessage()
        and f"/{topic_kind}" in record.getMessage()
    ]


async def test_hostile_payloads_change_nothing(  # noqa: PLR0917
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    hass_storage: dict[str, Any],
    mosquitto: Mosquitto,
    node: Node,
    fleet_key: bytes,
    config_entry: MockConfigEntry,
    announce: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.microhome")
    node.publish("status", "online", retain=True)
    node.publish("announce", json.dumps(announce), retain=True)
    config_entry.add_to_hass(hass)
    mqtt_entry = await async_setup_real_mqtt(hass, mosquitto)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    runtime = config_entry.runtime_data
    await wait_for(hass, lambda: runtime.online and runtime.announce)
    node.publish("telemetry", json.dumps(GOOD_TELEMETRY))
    rssi, ip = entity_id(hass, "sensor", "rssi"), entity_id(hass, "sensor", "ip")
    firmware = entity_id(hass, "update", "firmware")
    await wait_for(hass, lambda: hass.states.get(rssi).state == "-61")

    # A websocket subscriber (the frontend's way) to every state change.
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "subscribe_entities", "entity_ids": [rssi, ip]})
    assert (await client.receive_json())["success"]
    await client.receive_json()  # the initial states

    for suffix, payload in HOSTILE:
        node.publish(suffix, payload.encode("utf-8", "surrogatepass"))
    for payload in hostile_announces(announce):
        node.publish("announce", payload.encode("utf-8", "surrogatepass"), retain=True)
    # Log lines with newlines, escapes and surrogates are kept, but only as printable text.
    forged = "ok\n2026-12-02 06:00:00.000 ERROR (MainThread) [homeassistant] forged"
    log_entries = [
        {"seq": 0, "t": 5, "lvl": "W", "src": "home", "msg": forged},
        {"seq": 1, "t": 6, "lvl": "E", "src": "ho\nme", "msg": "\ud800\x1b[2J\r"},
    ]
    node.publish(
        "log",
        json.dumps({"boot": 3, "entries": log_entries}).encode("utf-8", "surrogatepass"),
    )

    # Valid messages after the storm show that it was handled, and that nothing stopped.
    node.publish("announce", json.dumps(announce | {"fw": "1.2.4"}), retain=True)
    node.publish("telemetry", json.dumps(GOOD_TELEMETRY | {"rssi": -42, "ip": "10.0.0.2"}))
    await wait_for(hass, lambda: hass.states.get(ip).state == "10.0.0.2")
    await wait_for(
        hass, lambda: hass.states.get(firmware).attributes["installed_version"] == "1.2.4"
    )
    await wait_for(hass, lambda: len(hass.data[DATA_LOGS].nodes[NODE_ID].entries) >= 3)

    # The subscriber got the valid change, and only valid values were ever shown.
    seen: list[str] = []
    while not any(value == "10.0.0.2" for value in seen):
        event = await client.receive_json()
        for change in event["event"].get("c", {}).values():
            if "s" in change.get("+", {}):
                seen.append(change["+"]["s"])
    assert set(seen) <= {"-42", "10.0.0.2"}
    assert hass.states.get(rssi).state == "-42"

    # The device shows only valid announce fields, and the registry still saves.
    device = node_device(hass, config_entry)
    assert (device.model, device.sw_version) == (announce["board"], "1.2.4")
    await flush_store(dr.async_get(hass)._store)
    saved = hass_storage["core.device_registry"]["data"]["devices"]
    assert [d["sw_version"] for d in saved if [DOMAIN, NODE_ID] in d["identifiers"]] == ["1.2.4"]
    assert hass.states.get(firmware).attributes["installed_version"] == "1.2.4"

    # Node log text reached HA's log on one line each, escaped, and the log store saves.
    node_lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == f"custom_components.microhome.node.{NODE_ID}"
    ]
    assert node_lines == [
        "home: ok\\n2026-12-02 06:00:00.000 ERROR (MainThread) [homeassistant] forged",
        "ho\\nme: \\ud800\\x1b[2J\\r",
    ]
    manager = hass.data[DATA_LOGS]
    await flush_store(manager._store(NODE_ID))
    stored = hass_storage[f"{STORAGE_KEY}.{NODE_ID}"]["data"]
    assert [entry[7] for entry in stored["entries"] if entry[8] == "log"] == [
        "ok\\n2026-12-02 06:00:00.000 ERROR (MainThread) [homeassistant] forged",
        "\\ud800\\x1b[2J\\r",
    ]
    assert stored["boot"] == 3

    # Nothing raised: no error, no traceback; each topic kind warned once, then debug lines.
    node_logger = f"custom_components.microhome.node.{NODE_ID}"
    assert not [
        r
        for r in caplog.records
        if (r.levelno >= logging.ERROR and r.name != node_logger) or r.exc_info
    ]
    for kind in ("telemetry", "announce"):
        assert len(dropped_warnings(caplog, kind)) == 1, kind
    assert (
        len([r for r in caplog.records if "Dropped malformed log payload" in r.getMessage()]) == 6
    )

    await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.config_entries.async_unload(mqtt_entry.entry_id)
    await hass.async_block_till_done()
