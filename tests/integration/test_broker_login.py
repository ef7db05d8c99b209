"""The add-node form's flash command gives a node a broker login of its own."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome.const import DOMAIN


async def flash_command(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    hass.config_entries.flow.async_abort(result["flow_id"])
    return str(result["description_placeholders"]["flash_command"])


async def test_add_node_form_never_shows_home_assistants_login(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes
) -> None:
    mqtt_entry = hass.config_entries.async_entries("mqtt")[0]
    hass.config_entries.async_update_entry(
        mqtt_entry,
        data={**mqtt_entry.data, "username": "homeassistant", "password": "ha-secret"},
    )
    command = await flash_command(hass)
    assert " --mqtt-user NODE_MQTT_USER --mqtt-password NODE_MQTT_PASSWORD " in command
    assert "homeassistant" not in command
    assert "ha-secret" not in command
    # The form says how to make that login with the Mosquitto add-on.
    translations = await async_get_translations(hass, "en", "config", [DOMAIN])
    description = translations[f"component.{DOMAIN}.config.step.user.description"]
    assert "*Logins*" in description
    assert "NODE_MQTT_USER" in description
    assert "{flash_command}" in description


async def test_broker_without_login_gets_no_login_flags(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes
) -> None:
    mqtt_entry = hass.config_entries.async_entries("mqtt")[0]
    assert not mqtt_entry.data.get("username")
    command = await flash_command(hass)
    assert "--mqtt-user" not in command
    assert "--mqtt-password" not in command
