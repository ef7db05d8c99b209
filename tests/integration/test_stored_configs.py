"""Configurations stored before the catalogue keep loading and are sent as before."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome.const import DOMAIN

from .conftest import NODE_ID, entity_id, make_options, published
from .test_options_flow import last_config


async def test_old_configuration_without_parameters_loads(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes, announce: dict[str, Any]
) -> None:
    """Peripherals stored without their parameters, and one of a type this version does not
    know: the entry loads, the known ones get entities, the body gets the defaults."""
    stored = [
        {"id": "climate", "type": "dht22", "name": "Climate", "pin": 15},
        {"id": "lamp", "type": "led", "name": "Lamp", "pin": 14},
        {"id": "gone", "type": "bme680", "name": "Gone", "pin": 4},
    ]
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=NODE_ID,
        title="Kitchen",
        data={"node_id": NODE_ID, "platform": "rp2", "announce": announce},
        options=make_options(stored),
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get(entity_id(hass, "sensor", "climate_temperature")) is not None
    assert hass.states.get(entity_id(hass, "light", "lamp")) is not None
    await entry.runtime_data.async_push_config()
    assert published(mqtt_mock, "config/set")
    body = last_config(hass, mqtt_mock)
    assert body["sensors"] == [
        {"id": "climate", "type": "dht22", "pin": 15, "interval": 30},
        {"id": "lamp", "type": "led", "pin": 14, "freq": 1000},
        {"id": "gone", "type": "bme680", "pin": 4},  # for the node to refuse with its reason
    ]
