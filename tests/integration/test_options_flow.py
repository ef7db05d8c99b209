"""Options flow: add, edit and remove peripherals, node settings, and every validation error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome.protocol import verify

from .conftest import NODE_ID, PREFIX, SENSORS, entity_id, make_options, published


async def open_step(hass: HomeAssistant, entry: MockConfigEntry, step: str) -> dict[str, Any]:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": step}
    )


async def add_sensor(
    hass: HomeAssistant, entry: MockConfigEntry, sensor_type: str
) -> dict[str, Any]:
    result = await open_step(hass, entry, "add_peripheral")
    assert result["step_id"] == "add_peripheral"
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"type": sensor_type}
    )


async def finish(hass: HomeAssistant, result: dict[str, Any]) -> dict[str, Any]:
    """Back at the menu after a step: save and send."""
    assert result["type"] is FlowResultType.MENU
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "finish"}
    )


def last_config(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> dict[str, Any]:
    payload, qos, retain = published(mqtt_mock, "config/set")[-1]
    assert (qos, retain) == (1, True)
    entry = hass.config_entries.async_entries("microhome")[0]
    return verify(entry.runtime_data.key, f"{PREFIX}/config/set", payload)


async def test_menu(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["menu_options"] == [
        "add_peripheral",
        "edit_peripheral",
        "remove_peripheral",
        "choose_filter",  # the DHT22's values may have filters
        "node_settings",
        "profile",
        "finish",
    ]
    hass.config_entries.async_update_entry(loaded_entry, options=make_options([], version=8))
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["menu_options"] == ["add_peripheral", "node_settings", "profile", "finish"]


async def test_add_dht22_publishes_signed_config(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    result = await add_sensor(hass, loaded_entry, "dht22")
    assert result["step_id"] == "peripheral"
    # Translated names, not raw keys, and how to wire the chosen type.
    assert result["description_placeholders"] == {
        "type": "DHT22 temperature and humidity",
        "board": "Raspberry Pi Pico W (rp2)",
        "wiring": "Data to the pin with a 10 kΩ pull-up to 3.3 V; VCC to 3.3 V, GND to GND.",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": "Living room", "pin": "GP2", "interval": 60}
    )
    result = await finish(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded_entry.options["version"] == 8
    assert loaded_entry.options["sensors"][-1] == {
        "id": "living_room",
        "type": "dht22",
        "name": "Living room",
        "pin": 2,
        "interval": 60,
    }
    body = last_config(hass, mqtt_mock)
    assert body["version"] == 8
    assert body["sensors"][-1] == {"id": "living_room", "type": "dht22", "pin": 2, "interval": 60}
    temperature = hass.states.get(entity_id(hass, "sensor", "living_room_temperature"))
    assert temperature.attributes["friendly_name"] == "Kitchen Living room temperature"


@pytest.mark.parametrize(
    ("sensor_type", "data", "stored"),
    [
        ("motion", {"name": "Door", "pin": "3", "off_delay": 0}, {"pin": 3, "off_delay": 0}),
        ("led", {"name": "Desk", "pin": "28", "freq": 40000}, {"pin": 28, "freq": 40000}),
    ],
)
async def test_add_motion_and_led(
    *,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    sensor_type: str,
    data: dict[str, Any],
    stored: dict[str, Any],
) -> None:
    result = await add_sensor(hass, loaded_entry, sensor_type)
    result = await hass.config_entries.options.async_configure(result["flow_id"], data)
    result = await finish(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    sensor = loaded_entry.options["sensors"][-1]
    assert (
        sensor == {"id": data["name"].lower(), "type": sensor_type, "name": data["name"]} | stored
    )
    platform = "binary_sensor" if sensor_type == "motion" else "light"
    assert hass.states.get(entity_id(hass, platform, sensor["id"])) is not None


async def test_add_status_led(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    result = await add_sensor(hass, loaded_entry, "status_led")
    assert result["errors"] == {"type": "status_led_exists"}
    hass.config_entries.async_update_entry(loaded_entry, options=make_options([], version=8))
    await hass.async_block_till_done()
    result = await add_sensor(hass, loaded_entry, "status_led")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": "Onboard", "pin": "LED"}
    )
    result = await finish(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert last_config(hass, mqtt_mock)["sensors"] == [
        {"id": "onboard", "type": "status_led", "pin": "LED"}
    ]


async def test_edit_sensor(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    result = await open_step(hass, loaded_entry, "edit_peripheral")
    assert result["step_id"] == "edit_peripheral"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"peripheral": "lamp"}
    )
    assert result["step_id"] == "peripheral"
    # The form shows the sensor's current settings; its own pin is free to keep.
    schema = {str(key): key for key in result["data_schema"].schema}
    assert schema["name"].description == {"suggested_value": "Lamp"}
    assert schema["pin"].description == {"suggested_value": "14"}
    assert schema["freq"].description == {"suggested_value": 1000}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": "Reading lamp", "pin": "14", "freq": 2000}
    )
    result = await finish(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    lamp = next(s for s in loaded_entry.options["sensors"] if s["id"] == "lamp")
    assert lamp == {"id": "lamp", "type": "led", "name": "Reading lamp", "pin": 14, "freq": 2000}
    assert {"id": "lamp", "type": "led", "pin": 14, "freq": 2000} in last_config(hass, mqtt_mock)[
        "sensors"
    ]
    state = hass.states.get(entity_id(hass, "light", "lamp"))
    assert state.attributes["friendly_name"] == "Kitchen Reading lamp"


async def test_remove_sensor(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    pir = entity_id(hass, "binary_sensor", "pir")
    result = await open_step(hass, loaded_entry, "remove_peripheral")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"peripheral": "pir"}
    )
    result = await finish(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert [s["id"] for s in loaded_entry.options["sensors"]] == ["climate", "lamp", "status"]
    assert hass.states.get(pir) is None
    assert "pir" not in [s["id"] for s in last_config(hass, mqtt_mock)["sensors"]]


async def test_node_settings(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    result = await open_step(hass, loaded_entry, "node_settings")
    suggested = {
        str(key): key.description["suggested_value"] for key in result["data_schema"].schema
    }
    assert suggested == {"telemetry_interval": 60, "log_level": "info"}
    for data, errors in (
        (
            {"telemetry_interval": 4, "log_level": "info"},
            {"telemetry_interval": "telemetry_interval_range"},
        ),
        (
            {"telemetry_interval": 86401, "log_level": "info"},
            {"telemetry_interval": "telemetry_interval_range"},
        ),
        (
            {"telemetry_interval": 30.5, "log_level": "info"},
            {"telemetry_interval": "telemetry_interval_range"},
        ),
    ):
        result = await hass.config_entries.options.async_configure(result["flow_id"], data)
        assert result["errors"] == errors
    # The log level selector takes only its options, not the node's own letters.
    for level in ("X", "D", "Debug", ""):
        with pytest.raises(InvalidData):
            await hass.config_entries.options.async_configure(
                result["flow_id"], {"telemetry_interval": 30, "log_level": level}
            )
    assert published(mqtt_mock, "config/set") == []
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"telemetry_interval": 30.0, "log_level": "debug"}
    )
    result = await finish(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    body = last_config(hass, mqtt_mock)
    assert (body["telemetry_interval"], body["log_level"]) == (30, "D")
    assert loaded_entry.options["log_level"] == "D"
    result = await open_step(hass, loaded_entry, "node_settings")
    suggested = {
        str(key): key.description["suggested_value"] for key in result["data_schema"].schema
    }
    assert suggested == {"telemetry_interval": 30, "log_level": "debug"}


@pytest.mark.parametrize(
    ("sensor_type", "data", "errors"),
    [
        ("motion", {"name": "", "pin": "3", "off_delay": 5}, {"name": "invalid_name"}),
        ("motion", {"name": "x" * 33, "pin": "3", "off_delay": 5}, {"name": "invalid_name"}),
        ("motion", {"name": "hall MOTION", "pin": "3", "off_delay": 5}, {"name": "name_in_use"}),
        ("motion", {"name": "Door", "pin": "GP23", "off_delay": 5}, {"pin": "invalid_pin"}),
        ("motion", {"name": "Door", "pin": "29", "off_delay": 5}, {"pin": "invalid_pin"}),
        ("motion", {"name": "Door", "pin": "D5", "off_delay": 5}, {"pin": "invalid_pin"}),
        ("motion", {"name": "Door", "pin": "15", "off_delay": 5}, {"pin": "pin_in_use"}),
        ("motion", {"name": "Door", "pin": "3", "off_delay": -1}, {"off_delay": "off_delay_range"}),
        (
            "motion",
            {"name": "Door", "pin": "3", "off_delay": 3601},
            {"off_delay": "off_delay_range"},
        ),
        ("dht22", {"name": "Air", "pin": "3", "interval": 1}, {"interval": "interval_range"}),
        ("dht22", {"name": "Air", "pin": "3", "interval": 2.5}, {"interval": "interval_range"}),
        ("led", {"name": "Desk", "pin": "3", "freq": 99}, {"freq": "freq_range"}),
        ("led", {"name": "Desk", "pin": "3", "freq": 40001}, {"freq": "freq_range"}),
        (
            "led",
            {"name": "Lamp", "pin": "LED", "freq": 0},
            {"name": "name_in_use", "pin": "pin_in_use", "freq": "freq_range"},
        ),
    ],
)
async def test_sensor_validation_errors(
    *,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    sensor_type: str,
    data: dict[str, Any],
    errors: dict[str, str],
) -> None:
    """A bad value is shown on its field and nothing is saved or sent."""
    before = dict(loaded_entry.options)
    result = await add_sensor(hass, loaded_entry, sensor_type)
    result = await hass.config_entries.options.async_configure(result["flow_id"], data)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert loaded_entry.options == before
    assert published(mqtt_mock, "config/set") == []


@pytest.mark.parametrize(
    ("sensor_type", "pin", "error"),
    [
        ("led", "34", "pin_input_only"),
        ("dht22", "39", "pin_input_only"),
        ("led", "6", "invalid_pin"),
        ("motion", "LED", "invalid_pin"),
        ("motion", "40", "invalid_pin"),
    ],
)
async def test_esp32_pins(
    *,
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
    announce: dict[str, Any],
    sensor_type: str,
    pin: str,
    error: str,
) -> None:
    entry = MockConfigEntry(
        domain="microhome",
        unique_id=NODE_ID,
        title="Shed",
        data={
            "node_id": NODE_ID,
            "platform": "esp32",
            "announce": announce | {"platform": "esp32"},
        },
        options=make_options([]),
    )
    entry.add_to_hass(hass)
    result = await add_sensor(hass, entry, sensor_type)
    pins = {str(key): key for key in result["data_schema"].schema}
    data = {"name": "New", "pin": pin} | {
        key: value
        for key, value in {"interval": 30, "off_delay": 5, "freq": 1000}.items()
        if key in pins
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], data)
    assert result["errors"] == {"pin": error}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], data | {"pin": "34" if sensor_type == "motion" else "13"}
    )
    result = await finish(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_pin_choices_leave_out_used_pins(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    result = await add_sensor(hass, loaded_entry, "motion")
    selector = {str(key): value for key, value in result["data_schema"].schema.items()}["pin"]
    options = selector.config["options"]
    assert "15" not in options and "LED" not in options
    assert options[:3] == ["0", "1", "2"]
    assert selector.config["custom_value"] is True


async def test_too_many_sensors(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    sensors = [
        {"id": f"m{i}", "type": "motion", "name": f"M{i}", "pin": i, "off_delay": 5}
        for i in range(16)
    ]
    hass.config_entries.async_update_entry(loaded_entry, options=make_options(sensors, 8))
    await hass.async_block_till_done()
    result = await open_step(hass, loaded_entry, "add_peripheral")
    assert result["errors"] == {"base": "too_many_peripherals"}


async def test_sensor_ids_stay_unique(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """A name whose id is taken gets a numbered id."""
    result = await add_sensor(hass, loaded_entry, "led")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": "lamp!", "pin": "3", "freq": 1000}
    )
    result = await finish(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded_entry.options["sensors"][-1]["id"] == "lamp_2"


async def test_version_above_node_cfg(
    *,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    fire: Any,
    announce: dict[str, Any],
) -> None:
    """A node that already runs configuration 20 gets version 21, not 8."""
    fire("announce", announce | {"cfg": 20})
    await hass.async_block_till_done()
    result = await open_step(hass, loaded_entry, "remove_peripheral")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"peripheral": "pir"}
    )
    await finish(hass, result)
    await hass.async_block_till_done()
    assert loaded_entry.options["version"] == 21
    assert json.loads(published(mqtt_mock, "config/set")[-1][0].split(" ", 1)[1])["version"] == 21


async def test_options_of_entry_without_sensors_key(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes
) -> None:
    entry = MockConfigEntry(
        domain="microhome",
        unique_id="bare",
        title="Bare",
        data={"node_id": "bare", "platform": "rp2", "announce": None},
        options={},
    )
    entry.add_to_hass(hass)
    result = await add_sensor(hass, entry, "led")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": "Desk", "pin": "3", "freq": 1000}
    )
    result = await finish(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options["version"] == 1
    assert entry.options["name"] == "Bare"
    assert SENSORS  # the shared fixture list is untouched


async def test_config_invalid_for_new_platform_is_refused(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    fire: Any,
    announce: dict[str, Any],
) -> None:
    """The node came back as an ESP32: the stored "LED" pin no longer fits, nothing is sent."""
    fire("announce", announce | {"platform": "esp32"})
    await hass.async_block_till_done()
    result = await open_step(hass, loaded_entry, "remove_peripheral")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"peripheral": "pir"}
    )
    result = await finish(hass, result)
    assert (result["type"], result["reason"]) == (FlowResultType.ABORT, "invalid_config")
    assert (
        "sensors[2].pin: LED is not a usable pin on esp32"
        in (result["description_placeholders"]["errors"])
    )
    assert loaded_entry.options["version"] == 7
    assert published(mqtt_mock, "config/set") == []


async def test_several_changes_in_one_trip_push_once(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """The menu stays open: two peripherals added, one removed, settings changed, one push."""
    flow = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    flow_id = flow["flow_id"]
    configure = hass.config_entries.options.async_configure
    for name, pin in (("Desk", "3"), ("Shelf", "4")):
        result = await configure(flow_id, {"next_step_id": "add_peripheral"})
        result = await configure(flow_id, {"type": "led"})
        result = await configure(flow_id, {"name": name, "pin": pin, "freq": 1000})
        assert result["type"] is FlowResultType.MENU
    # The second LED may not take the first one's pin: the working copy counts.
    result = await configure(flow_id, {"next_step_id": "add_peripheral"})
    result = await configure(flow_id, {"type": "motion"})
    result = await configure(flow_id, {"name": "Door", "pin": "3", "off_delay": 5})
    assert result["errors"] == {"pin": "pin_in_use"}
    result = await configure(flow_id, {"name": "Door", "pin": "5", "off_delay": 5})
    result = await configure(flow_id, {"next_step_id": "remove_peripheral"})
    choices = {str(key): value for key, value in result["data_schema"].schema.items()}[
        "peripheral"
    ].config["options"]
    assert {"value": "desk", "label": "Desk (Dimmable LED)"} in choices
    result = await configure(flow_id, {"peripheral": "pir"})
    result = await configure(flow_id, {"next_step_id": "node_settings"})
    result = await configure(flow_id, {"telemetry_interval": 120, "log_level": "warning"})
    assert result["type"] is FlowResultType.MENU
    assert published(mqtt_mock, "config/set") == []  # nothing sent before the user finishes
    result = await finish(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert len(published(mqtt_mock, "config/set")) == 1
    body = last_config(hass, mqtt_mock)
    assert [s["id"] for s in body["sensors"]] == [
        "climate",
        "lamp",
        "status",
        "desk",
        "shelf",
        "door",
    ]
    assert (body["telemetry_interval"], body["log_level"], body["version"]) == (120, "W", 8)


async def test_finish_without_changes_sends_nothing(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    flow = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"next_step_id": "node_settings"}
    )
    schema = {str(key): key for key in result["data_schema"].schema}
    assert schema["log_level"].description == {"suggested_value": "info"}
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {"telemetry_interval": 60, "log_level": "info"}
    )
    result = await finish(hass, result)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded_entry.options["version"] == 7
    assert published(mqtt_mock, "config/set") == []
