"""End to end through a real mosquitto and Home Assistant's real MQTT client.

A paho client plays the node: it announces itself, checks the signed configuration and
commands Home Assistant sends with the node key, and answers them.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest
from homeassistant.const import ATTR_ENTITY_ID, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microhome import protocol
from custom_components.microhome.client import Change
from custom_components.microhome.const import DOMAIN
from tests.broker import Mosquitto
from tests.real_mqtt import async_setup_real_mqtt, wait_for

from .conftest import NODE_ID, PREFIX, entity_id

# Home Assistant, the broker and the fake node talk over 127.0.0.1 only.
pytestmark = pytest.mark.usefixtures("socket_enabled", "mock_hass_config")


class FakeNode:
    """A paho client speaking the node's side of the protocol."""

    def __init__(self, broker: Mosquitto, key: bytes) -> None:
        self.key = key
        self.received: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=NODE_ID)
        self.client.will_set(f"{PREFIX}/status", "offline", qos=1, retain=True)
        self.client.on_message = lambda _c, _u, msg: self.received.put((msg.topic, msg.payload))
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(f"{PREFIX}/cmd", qos=1)
        self.client.subscribe(f"{PREFIX}/config/set", qos=1)
        self.client.loop_start()

    def publish(self, suffix: str, payload: Any, retain: bool = False) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        self.client.publish(f"{PREFIX}/{suffix}", text, qos=1, retain=retain).wait_for_publish(5)

    async def next_message(self, topic_suffix: str) -> dict[str, Any]:
        """The next signed message on topic_suffix, verified with the node key."""
        deadline = asyncio.get_running_loop().time() + 10
        while asyncio.get_running_loop().time() < deadline:
            try:
                topic, payload = self.received.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.05)
                continue
            if topic == f"{PREFIX}/{topic_suffix}" and payload:
                return protocol.verify(self.key, topic, payload)
        raise AssertionError(f"nothing on {topic_suffix}")

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def node(mosquitto: Mosquitto, fleet_key: bytes) -> Iterator[FakeNode]:
    fake = FakeNode(mosquitto, protocol.node_key(fleet_key, NODE_ID))
    yield fake
    fake.stop()


async def test_discover_configure_and_command(
    hass: HomeAssistant, mosquitto: Mosquitto, node: FakeNode, announce: dict[str, Any]
) -> None:
    node.publish("status", "online", retain=True)
    node.publish("announce", announce, retain=True)
    mqtt_entry = await async_setup_real_mqtt(hass, mosquitto)

    # The retained announce starts a discovery flow.
    flow = await wait_for(
        hass,
        lambda: next((f for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN)), None),
    )
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    await wait_for(hass, lambda: entry.runtime_data.online)

    # The user adds an LED: the node receives the retained, signed configuration.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "add_peripheral"}
    )
    result = await hass.config_entries.options.async_configure(result["flow_id"], {"type": "led"})
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": "Lamp", "pin": "14", "freq": 1000}
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "finish"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    config = await node.next_message("config/set")
    assert config["version"] == 8  # above the node's cfg 7
    assert config["sensors"] == [{"id": "lamp", "type": "led", "pin": 14, "freq": 1000}]
    node.publish("config/state", {"version": 8, "ok": True, "errors": []}, retain=True)
    await wait_for(hass, lambda: not entry.runtime_data.config_pending)

    # A light command reaches the node signed; the state follows the node's echo.
    lamp = await wait_for(hass, lambda: hass.states.get(entity_id(hass, "light", "lamp")))
    call = hass.async_create_task(
        hass.services.async_call(
            "light", "turn_on", {ATTR_ENTITY_ID: lamp.entity_id, "brightness": 200}, blocking=True
        )
    )
    command = await node.next_message("cmd")
    assert (command["cmd"], command["id"], command["brightness"]) == ("set", "lamp", 200)
    assert command["n"] > config["n"]
    node.publish("state/lamp", {"on": True, "brightness": 200}, retain=True)
    node.publish("reply", {"n": command["n"], "ok": True, "error": None})
    await call
    state = await wait_for(
        hass, lambda: (s := hass.states.get(lamp.entity_id)) and s.state == STATE_ON and s
    )
    assert state.attributes["brightness"] == 200

    await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_unload(mqtt_entry.entry_id)
    await hass.async_block_till_done()


async def test_a_burst_while_home_assistant_is_busy_loses_no_state(
    hass: HomeAssistant,
    mosquitto: Mosquitto,
    node: FakeNode,
    announce: dict[str, Any],
    config_entry: MockConfigEntry,
) -> None:
    """1,500 states while Home Assistant's loop is held (as when hundreds of nodes are being
    added): all of them arrive. mosquitto queues at most 1,000 QoS 1 messages for a busy
    subscriber and drops the rest; the node topics are subscribed at QoS 0."""
    node.publish("status", "online", retain=True)
    node.publish("announce", announce, retain=True)
    mqtt_entry = await async_setup_real_mqtt(hass, mosquitto)
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    runtime = config_entry.runtime_data
    await wait_for(hass, lambda: runtime.online and runtime.announce)
    seen: set[float] = set()

    def on_state() -> None:
        seen.add(runtime.states["climate"].values["temperature"])

    runtime.async_listen(Change.STATE, on_state, "climate")
    burst = [round(10 + index * 0.01, 2) for index in range(1500)]
    sent = threading.Event()

    def publish_burst() -> None:
        for value in burst:
            node.publish("state/climate", {"temperature": value, "humidity": 40.0})
        sent.set()

    publisher = threading.Thread(target=publish_burst)
    publisher.start()
    sent.wait(60)  # holds Home Assistant's loop until the broker has taken all of them
    publisher.join()
    await wait_for(hass, lambda: len(seen) == len(burst))
    assert sorted(seen) == burst
    await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.config_entries.async_unload(mqtt_entry.entry_id)
    await hass.async_block_till_done()
