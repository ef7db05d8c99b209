"""The relay: added through the options flow, shown as a switch, its state the node's echo."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.const import ATTR_ENTITY_ID, STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome import protocol

from .conftest import Fire, entity_id
from .test_entities import _call
from .test_options_flow import add_sensor, finish, last_config, open_step


async def test_relay_is_a_switch(
    *,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    fire: Fire,
    mqtt_mock: MqttMockHAClient,
    announce: dict[str, Any],
) -> None:
    # Offered only by firmware that runs relays: the node says so in its announce's caps.
    result = await open_step(hass, loaded_entry, "add_peripheral")
    options = {str(key): value for key, value in result["data_schema"].schema.items()}["type"]
    assert "relay" not in options.config["options"]
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(result["flow_id"], {"type": "relay"})
    fire("announce", announce | {"caps": [*announce["caps"], "relay"]})
    await hass.async_block_till_done()
    result = await add_sensor(hass, loaded_entry, "relay")
    assert result["description_placeholders"]["type"] == "Relay"
    fields = {str(key) for key in result["data_schema"].schema}
    assert fields == {"name", "pin", "inverted", "max_on"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": "Pump", "pin": "17", "inverted": True, "max_on": 1.5}
    )
    assert result["errors"] == {"max_on": "max_on_range"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": "Pump", "pin": "17", "inverted": True, "max_on": 600}
    )
    result = await finish(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert last_config(hass, mqtt_mock)["sensors"][-1] == {
        "id": "pump",
        "type": "relay",
        "pin": 17,
        "inverted": True,
        "max_on": 600,
    }

    pump = entity_id(hass, "switch", "pump")
    assert hass.states.get(pump).state == STATE_UNKNOWN
    assert hass.states.get(pump).attributes["friendly_name"] == "Kitchen Pump"
    body = await _call(hass, mqtt_mock, "switch", "turn_on", {ATTR_ENTITY_ID: pump})
    assert {k: v for k, v in body.items() if k != "n"} == {"cmd": "set", "id": "pump", "on": True}
    # No optimistic state: the switch changes only on the node's echo.
    assert hass.states.get(pump).state == STATE_UNKNOWN
    fire("state/pump", {"on": True})
    await hass.async_block_till_done()
    assert hass.states.get(pump).state == STATE_ON
    body = await _call(hass, mqtt_mock, "switch", "turn_off", {ATTR_ENTITY_ID: pump})
    assert body["on"] is False
    fire("state/pump", {"on": False})
    await hass.async_block_till_done()
    assert hass.states.get(pump).state == STATE_OFF


def test_relay_configuration_is_checked() -> None:
    config = {
        "n": 1,
        "version": 1,
        "name": "Shed",
        "telemetry_interval": 60,
        "log_level": "I",
        "sensors": [{"id": "pump", "type": "relay", "pin": 17, "inverted": "yes"}],
    }
    assert protocol.validate_config(config, "rp2") == [
        "sensors[0].inverted: expected bool, got 'yes'"
    ]
    config["sensors"] = [{"id": "pump", "type": "relay", "pin": 34}]
    assert protocol.validate_config(config, "esp32") == [
        "sensors[0].pin: 34 is input-only, a relay needs an output"
    ]
    assert protocol.config_body(config, 2)["sensors"] == [
        {"id": "pump", "type": "relay", "pin": 34, "inverted": False, "max_on": 0}
    ]
