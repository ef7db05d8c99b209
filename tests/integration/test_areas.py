"""Areas: a node goes into an area only when the user picks one; entity ids and names stay clean."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import probatio
from homeassistant.config_entries import SOURCE_MQTT, SOURCE_USER, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome.const import DOMAIN

from .conftest import NODE_ID, SENSORS, Fire, make_options
from .test_config_flow import discovery

STRINGS = json.loads(
    (
        Path(__file__).resolve().parents[2] / "custom_components" / DOMAIN / "strings.json"
    ).read_text()
)
LAMP = [sensor for sensor in SENSORS if sensor["id"] == "lamp"]


async def discover(
    hass: HomeAssistant, announce: dict[str, Any], user_input: dict[str, Any]
) -> ConfigEntry[Any]:
    """Add the announced node through the discovery flow, answering its form."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_MQTT},
        data=discovery(json.dumps(announce), topic=f"microhome/{announce['id']}/announce"),
    )
    assert (result["type"], result["step_id"]) == (FlowResultType.FORM, "discovery_confirm")
    # The form's only field is an optional area picker.
    fields = {str(key): key for key in result["data_schema"].schema}
    assert list(fields) == ["area"]
    assert isinstance(fields["area"], probatio.Optional)
    assert_labelled(result["step_id"], fields)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry: ConfigEntry[Any] = result["result"]
    return entry


async def add_lamp(hass: HomeAssistant, entry: ConfigEntry[Any]) -> er.RegistryEntry:
    """Give the node an LED called "Lamp"; its light's registry entry."""
    hass.config_entries.async_update_entry(entry, options=make_options(LAMP, version=1))
    await hass.async_block_till_done()
    found = er.async_get(hass).async_get_entity_id("light", DOMAIN, f"{entry.unique_id}_lamp")
    assert found is not None
    registered = er.async_get(hass).async_get(found)
    assert registered is not None
    return registered


def assert_labelled(step_id: str, fields: dict[str, Any]) -> None:
    """Every field of the form has a label and a description in strings.json."""
    step = STRINGS["config"]["step"][step_id]
    assert set(fields) <= set(step["data"])
    assert set(fields) <= set(step["data_description"])


def device_of(hass: HomeAssistant, node_id: str) -> dr.DeviceEntry:
    [entry] = [e for e in hass.config_entries.async_entries(DOMAIN) if e.unique_id == node_id]
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, node_id), entry.entry_id)
    assert device is not None
    return device


async def test_discovered_node_gets_no_area_from_its_name(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
    announce: dict[str, Any],
    fire: Fire,
) -> None:
    """A node called Kitchen: no area "Kitchen", light.kitchen_lamp named "Lamp"."""
    entry = await discover(hass, announce | {"name": "kitchen"}, {})
    assert "area" not in entry.data
    assert device_of(hass, NODE_ID).area_id is None
    assert list(ar.async_get(hass).async_list_areas()) == []
    lamp = await add_lamp(hass, entry)
    assert lamp.entity_id == "light.kitchen_lamp"
    assert lamp.original_name == "Lamp"
    fire("status", "online")
    await hass.async_block_till_done()
    state = hass.states.get("light.kitchen_lamp")
    assert state is not None
    assert state.attributes["friendly_name"] == "kitchen Lamp"


async def test_node_with_default_id_gets_no_area(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes, announce: dict[str, Any]
) -> None:
    entry = await discover(hass, announce | {"name": ""}, {})
    assert entry.title == NODE_ID
    assert device_of(hass, NODE_ID).area_id is None
    assert list(ar.async_get(hass).async_list_areas()) == []
    lamp = await add_lamp(hass, entry)
    assert lamp.entity_id == "light.mh_a1b2c3_lamp"
    assert lamp.original_name == "Lamp"


async def test_chosen_area_holds_the_device_and_survives_a_reload(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes, announce: dict[str, Any]
) -> None:
    areas = ar.async_get(hass)
    living_room = areas.async_create("Living room")
    garden = areas.async_create("Garden")
    entry = await discover(hass, announce, {"area": living_room.id})
    assert device_of(hass, NODE_ID).area_id == living_room.id
    assert {area.name for area in areas.async_list_areas()} == {"Living room", "Garden"}
    lamp = await add_lamp(hass, entry)
    # Home Assistant puts the area in front of the device's and entity's names.
    assert lamp.entity_id == "light.living_room_kitchen_lamp"
    assert lamp.original_name == "Lamp"
    # The user moves the node; the area picked when adding it is not forced back.
    dr.async_get(hass).async_update_device(device_of(hass, NODE_ID).id, area_id=garden.id)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert device_of(hass, NODE_ID).area_id == garden.id


async def test_an_area_deleted_before_submitting_is_ignored(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes, announce: dict[str, Any]
) -> None:
    areas = ar.async_get(hass)
    shed = areas.async_create("Shed")
    areas.async_delete(shed.id)
    entry = await discover(hass, announce, {"area": shed.id})
    assert "area" not in entry.data
    assert device_of(hass, NODE_ID).area_id is None
    assert list(areas.async_list_areas()) == []


async def test_manual_add_offers_an_area(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes
) -> None:
    garage = ar.async_get(hass).async_create("Garage")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    fields = {str(key): key for key in result["data_schema"].schema}
    assert isinstance(fields["area"], probatio.Optional)
    assert_labelled("user", fields)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"node_id": "garage", "platform": "esp32", "area": garage.id}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert device_of(hass, "garage").area_id == garage.id
    # Without one, the next node stays out of every area.
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"node_id": "shed", "platform": "rp2"}
    )
    await hass.async_block_till_done()
    assert device_of(hass, "shed").area_id is None
    assert [area.name for area in ar.async_get(hass).async_list_areas()] == ["Garage"]
