"""Contacts and buttons, PWM outputs and analog inputs through the options flow, their entities
(units, classes, number commands, button events) and the filters step."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.components.binary_sensor import BinarySensorDeviceClass
from homeassistant.components.number import ATTR_VALUE
from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorStateClass
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_ENTITY_ID,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome import catalogue, protocol

from .conftest import Fire, entity_id, make_options
from .test_entities import _call
from .test_options_flow import add_sensor, finish, last_config, open_step

GPIO_TYPES = ["binary_input", "pwm_output", "adc"]


@pytest.fixture
async def gpio_entry(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, announce: dict[str, Any]
) -> MockConfigEntry:
    """The node, whose firmware runs the GPIO and ADC types (its announce's caps say so)."""
    fire("announce", announce | {"caps": [*announce["caps"], *GPIO_TYPES]})
    await hass.async_block_till_done()
    return loaded_entry


async def add(
    hass: HomeAssistant, entry: MockConfigEntry, kind: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Add a peripheral of kind with data; the flow's result after the peripheral step."""
    result = await add_sensor(hass, entry, kind)
    assert result["step_id"] == "peripheral"
    return await hass.config_entries.options.async_configure(result["flow_id"], data)


async def save(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, result: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any]:
    """Submit the peripheral form with data, save and send; the peripheral as the node got it."""
    result = await hass.config_entries.options.async_configure(result["flow_id"], data)
    await finish(hass, result)
    await hass.async_block_till_done()
    sent: dict[str, Any] = last_config(hass, mqtt_mock)["sensors"][-1]
    return sent


async def test_a_button_is_a_binary_sensor_and_an_event(
    hass: HomeAssistant, gpio_entry: MockConfigEntry, fire: Fire, mqtt_mock: MqttMockHAClient
) -> None:
    result = await add_sensor(hass, gpio_entry, "binary_input")
    fields = {str(key) for key in result["data_schema"].schema}
    assert fields == {"name", "pin", *(p.key for p in catalogue.TYPES["binary_input"].params)}
    data = {
        "name": "Door bell",
        "pin": "9",
        "pull": "up",
        "inverted": True,
        "debounce_ms": 30,
        "events": True,
        "long_ms": 1200,
        "double_ms": 400,
        "device_class": "door",
    }
    bad = await hass.config_entries.options.async_configure(
        result["flow_id"], data | {"debounce_ms": 2, "long_ms": 10**9}
    )
    assert bad["errors"] == {"debounce_ms": "debounce_ms_range", "long_ms": "long_ms_range"}
    # the device class stays in Home Assistant; the node gets what it runs
    node_part = {k: v for k, v in data.items() if k not in ("name", "device_class")}
    sent = await save(hass, mqtt_mock, result, data)
    assert sent == node_part | {"id": "door_bell", "type": "binary_input", "pin": 9}
    contact = entity_id(hass, "binary_sensor", "door_bell")
    button = entity_id(hass, "event", "door_bell_button")
    assert hass.states.get(contact).attributes[ATTR_DEVICE_CLASS] == BinarySensorDeviceClass.DOOR
    assert hass.states.get(button).attributes["event_types"] == list(catalogue.BUTTON_EVENTS)
    assert hass.states.get(button).attributes["friendly_name"] == "Kitchen Door bell button"
    assert hass.states.get(button).state == STATE_UNKNOWN

    fire("state/door_bell", {"on": True}, retain=True)
    await hass.async_block_till_done()
    assert hass.states.get(contact).state == STATE_ON
    fire("state/door_bell", {"on": False, "event": "press"})
    await hass.async_block_till_done()
    assert hass.states.get(contact).state == STATE_OFF
    pressed = hass.states.get(button)
    assert pressed.attributes["event_type"] == "press"
    # an old event, as the broker hands it over after a restart or reconnect: not fired
    fire("state/door_bell", {"on": False, "event": "long_press"}, retain=True)
    # nor an event the node does not have, nor anything when the configuration changes
    fire("state/door_bell", {"on": False, "event": "explode<b>"})
    fire("announce", {"bad": 1})
    await hass.async_block_till_done()
    assert hass.states.get(button) == pressed
    fire("state/door_bell", {"on": False, "event": "double_press"})
    await hass.async_block_till_done()
    assert hass.states.get(button).attributes["event_type"] == "double_press"
    assert hass.states.get(button).state != pressed.state

    # not a button any more: the event entity goes
    result = await open_step(hass, gpio_entry, "edit_peripheral")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"peripheral": "door_bell"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], data | {"events": False, "device_class": "none"}
    )
    await finish(hass, result)
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    assert registry.async_get(button) is None
    assert ATTR_DEVICE_CLASS not in hass.states.get(contact).attributes


async def test_a_pwm_output_is_a_number_the_node_applies(
    hass: HomeAssistant, gpio_entry: MockConfigEntry, fire: Fire, mqtt_mock: MqttMockHAClient
) -> None:
    result = await add(hass, gpio_entry, "pwm_output", {"name": "Pump", "pin": "13", "freq": 50})
    assert result["errors"] == {"freq": "freq_range"}
    data = {"name": "Pump", "pin": "13", "freq": 2000}
    assert await save(hass, mqtt_mock, result, data) == {
        "id": "pump",
        "type": "pwm_output",
        "pin": 13,
        "freq": 2000,
    }
    pump = entity_id(hass, "number", "pump")
    attributes = hass.states.get(pump).attributes
    assert (attributes["min"], attributes["max"], attributes["step"]) == (0, 100, 1)
    assert attributes[ATTR_UNIT_OF_MEASUREMENT] == "%"
    body = await _call(
        hass, mqtt_mock, "number", "set_value", {ATTR_ENTITY_ID: pump, ATTR_VALUE: 42}
    )
    assert {k: v for k, v in body.items() if k != "n"} == {"cmd": "set", "id": "pump", "duty": 42}
    # no optimistic state: the number shows the node's echo
    assert hass.states.get(pump).state == STATE_UNKNOWN
    fire("state/pump", {"duty": 42})
    await hass.async_block_till_done()
    assert hass.states.get(pump).state == "42.0"
    fire("state/pump", {"duty": 1e300})  # out of range: dropped, the last value stays
    await hass.async_block_till_done()
    assert hass.states.get(pump).state == "42.0"


async def test_an_analog_input_reports_volts_and_a_calibrated_quantity(
    hass: HomeAssistant, gpio_entry: MockConfigEntry, fire: Fire, mqtt_mock: MqttMockHAClient
) -> None:
    data = {
        "name": "Tank",
        "pin": "26",
        "interval": 5,
        "volts1": 0.5,
        "value1": 0,
        "volts2": 4.5,
        "value2": 10,
        "unit": "bar",
        "device_class": "pressure",
    }
    result = await add(hass, gpio_entry, "adc", data | {"pin": "15"})
    assert result["errors"] == {"pin": "invalid_pin"}  # rp2: GP26-GP28 only
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], data | {"volts2": 0.5, "unit": "x" * 17}
    )
    assert result["errors"] == {"unit": "unit_range"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], data | {"volts2": 0.5}
    )
    assert result["errors"] == {"volts2": "same_point"}
    assert await save(hass, mqtt_mock, result, data) == {
        "id": "tank",
        "type": "adc",
        "pin": 26,
        "interval": 5,
        "volts1": 0.5,
        "value1": 0,
        "volts2": 4.5,
        "value2": 10,
    }
    fire("state/tank", {"voltage": 2.5, "value": 5.0})
    await hass.async_block_till_done()
    voltage = hass.states.get(entity_id(hass, "sensor", "tank_voltage"))
    value = hass.states.get(entity_id(hass, "sensor", "tank_value"))
    assert voltage.state == "2.5"
    assert voltage.attributes[ATTR_UNIT_OF_MEASUREMENT] == "V"
    assert voltage.attributes[ATTR_DEVICE_CLASS] == "voltage"
    assert voltage.attributes[ATTR_STATE_CLASS] == SensorStateClass.MEASUREMENT
    assert value.state == "5.0"
    assert value.attributes[ATTR_UNIT_OF_MEASUREMENT] == "bar"
    assert value.attributes[ATTR_DEVICE_CLASS] == "pressure"
    assert value.attributes[ATTR_STATE_CLASS] == SensorStateClass.MEASUREMENT
    fire("state/tank", {"error": "read failed"})  # a failed reading: no value, not a wrong one
    await hass.async_block_till_done()
    assert hass.states.get(entity_id(hass, "sensor", "tank_value")).state == STATE_UNAVAILABLE


async def test_the_filters_step_sets_a_values_filters(
    hass: HomeAssistant, gpio_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    result = await open_step(hass, gpio_entry, "choose_filter")
    options = {str(key): value for key, value in result["data_schema"].schema.items()}["value"]
    offered = [option["value"] for option in options.config["options"]]
    assert offered == ["climate.temperature", "climate.humidity"]  # no output, no motion
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"value": "climate.temperature"}
    )
    assert result["step_id"] == "filters"
    assert result["description_placeholders"] == {"peripheral": "Climate", "value": "temperature"}
    defaults = {param.key: param.default for param in catalogue.FILTER_PARAMS}
    wanted = defaults | {"window": 5, "offset": -0.4, "delta": 0.2, "heartbeat": 300}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], wanted | {"window": 17, "heartbeat": 0.5, "delta": -1}
    )
    assert result["errors"] == {
        "window": "window_range",
        "heartbeat": "heartbeat_range",
        "delta": "delta_range",
    }
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], wanted | {"raw1": 3, "raw2": 3}
    )
    assert result["errors"] == {"raw2": "same_point"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], wanted)
    await finish(hass, result)
    await hass.async_block_till_done()
    climate = last_config(hass, mqtt_mock)["sensors"][0]
    assert climate["filters"] == {
        "temperature": {"window": 5, "offset": -0.4, "delta": 0.2, "heartbeat": 300}
    }

    # editing the peripheral keeps its filters; all defaults again: no filters
    result = await open_step(hass, gpio_entry, "edit_peripheral")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"peripheral": "climate"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"name": "Climate", "pin": "15", "interval": 60}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "choose_filter"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"value": "climate.temperature"}
    )
    schema = result["data_schema"].schema
    suggested = {str(k): k.description["suggested_value"] for k in schema}
    assert suggested == wanted
    result = await hass.config_entries.options.async_configure(result["flow_id"], wanted)
    await finish(hass, result)
    await hass.async_block_till_done()
    assert last_config(hass, mqtt_mock)["sensors"][0]["filters"] == climate["filters"]
    result = await open_step(hass, gpio_entry, "choose_filter")
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"value": "climate.temperature"}
    )
    result = await hass.config_entries.options.async_configure(result["flow_id"], defaults)
    await finish(hass, result)
    await hass.async_block_till_done()
    assert "filters" not in last_config(hass, mqtt_mock)["sensors"][0]


def test_filters_are_checked_with_their_path() -> None:
    config = protocol.config_body(make_options([]), 1)
    config["sensors"] = [
        {
            "id": "tank",
            "type": "adc",
            "pin": 26,
            "filters": {
                "value": {"offset": float("nan"), "delta": float("inf"), "window": True},
                "voltage": {"average": "mode", "mean": 3},
            },
        },
        {"id": "pump", "type": "relay", "pin": 17, "filters": {"on": {}}},
        {"id": "heat", "type": "pwm_output", "pin": 14, "filters": []},
    ]
    assert protocol.validate_config(config, "rp2") == [
        "sensors[0].filters.value.window: expected int, got True",
        "sensors[0].filters.value.offset: nan is not in -1000000-1000000",
        "sensors[0].filters.value.delta: inf is not in 0-1000000",
        "sensors[0].filters.voltage.mean: unknown setting",
        "sensors[0].filters.voltage.average: 'mode' is not one of median, mean",
        "sensors[1].filters.on: not a filterable value of relay (none)",
        "sensors[2].filters: expected an object",
    ]
