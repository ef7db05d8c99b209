"""Config flow: MQTT discovery, manual entry, reconfigure."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_MQTT, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome.const import DOMAIN

from .conftest import NODE_ID, PREFIX, Fire, entity_id, node_device, published


def discovery(payload: str, topic: str = f"{PREFIX}/announce") -> MqttServiceInfo:
    return MqttServiceInfo(
        topic=topic,
        payload=payload,
        qos=1,
        retain=True,
        subscribed_topic="microhome/+/announce",
        timestamp=0,
    )


async def test_discovery_creates_entry_and_entities(
    *,
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
    announce: dict[str, Any],
    fire: Fire,
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=discovery(json.dumps(announce))
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "discovery_confirm"
    assert result["description_placeholders"] == {
        "name": "Kitchen",
        "node_id": NODE_ID,
        "platform": "rp2",
        "board": "Raspberry Pi Pico W",
        "firmware": "1.2.3",
    }
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Kitchen"
    entry = result["result"]
    assert entry.unique_id == NODE_ID
    assert entry.data["announce"] == announce
    assert entry.options["version"] == 0
    assert entry.options["sensors"] == []
    await hass.async_block_till_done()
    device = node_device(hass, entry)
    assert (device.manufacturer, device.model, device.sw_version, device.name) == (
        "MicroHome",
        "Raspberry Pi Pico W",
        "1.2.3",
        "Kitchen",
    )
    assert (dr.CONNECTION_NETWORK_MAC, "28:cd:c1:a1:b2:c3") in device.connections
    fire("status", "online")
    await hass.async_block_till_done()
    assert hass.states.get(entity_id(hass, "button", "reboot")).state == "unknown"
    # A new node gets no configuration until the user makes one.
    assert published(mqtt_mock, "config/set") == []


async def test_discovery_aborts_on_empty_and_malformed_announce(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, vectors: dict[str, Any]
) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=discovery("")
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "empty_announce")
    for payload in vectors["malformed_node_payloads"]["announce"][1:]:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_MQTT}, data=discovery(payload)
        )
        assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "invalid_announce")
        assert result["description_placeholders"]["error"]
    announce = dict(vectors["node_payloads"]["announce"])
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_MQTT},
        data=discovery(json.dumps(announce), topic="microhome/other/announce"),
    )
    assert result["reason"] == "invalid_announce"
    assert "does not match" in result["description_placeholders"]["error"]


async def test_changed_announce_updates_entry(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, announce: dict[str, Any]
) -> None:
    changed = announce | {"ip": "192.168.1.77", "fw": "1.3.0"}
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_MQTT}, data=discovery(json.dumps(changed))
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "already_configured")
    assert loaded_entry.data["announce"]["fw"] == "1.3.0"
    assert loaded_entry.data["announce"]["ip"] == "192.168.1.77"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_announce_of_running_node_updates_device(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, announce: dict[str, Any], fire: Fire
) -> None:
    fire("announce", announce | {"fw": "1.4.0", "board": "Pico 2 W"})
    await hass.async_block_till_done()
    device = node_device(hass, loaded_entry)
    assert (device.sw_version, device.model) == ("1.4.0", "Pico 2 W")
    assert loaded_entry.runtime_data.firmware == "1.4.0"
    assert loaded_entry.data["announce"]["fw"] == "1.4.0"


async def test_user_step(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "user")
    # Before the first node exists, the form tells how to flash one with the fleet key.
    command = result["description_placeholders"]["flash_command"]
    assert command.startswith("microhome flash --port")
    assert command.endswith(f"--fleet-key {fleet_key.hex()}")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"node_id": "Bad Id", "platform": "esp32"}
    )
    assert result["errors"] == {"node_id": "invalid_node_id"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"node_id": " garage ", "platform": "esp32"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "garage"
    assert result["data"] == {"node_id": "garage", "platform": "esp32", "announce": None}
    await hass.async_block_till_done()
    assert result["result"].runtime_data.platform == "esp32"
    # The same id again is refused.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"node_id": "garage", "platform": "esp32"}
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "already_configured")


async def test_user_step_without_mqtt(hass: HomeAssistant) -> None:
    with patch("homeassistant.components.mqtt.async_wait_for_mqtt_client", return_value=False):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "mqtt_not_connected")


async def test_reconfigure_renames_and_pushes(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    result = await loaded_entry.start_reconfigure_flow(hass)
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "reconfigure")
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"name": " "})
    assert result["errors"] == {"name": "invalid_name"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"name": "x" * 33})
    assert result["errors"] == {"name": "invalid_name"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"name": "Garden shed"}
    )
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "reconfigure_successful")
    await hass.async_block_till_done()
    assert loaded_entry.title == "Garden shed"
    assert loaded_entry.options["name"] == "Garden shed"
    assert loaded_entry.options["version"] == 8
    device = node_device(hass, loaded_entry)
    assert device.name == "Garden shed"
    payload, qos, retain = published(mqtt_mock, "config/set")[-1]
    assert (qos, retain) == (1, True)
    body = json.loads(payload.split(" ", 1)[1])
    assert (body["name"], body["version"]) == ("Garden shed", 8)
