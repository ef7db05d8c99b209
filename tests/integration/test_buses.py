"""Devices on I2C and 1-Wire buses through Home Assistant: the options flow (bus fields, the
node's scan, naming the probes found, every error), their entities, and faults."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome import catalogue, protocol
from custom_components.microhome.const import DOMAIN
from custom_components.microhome.protocol import verify

from .conftest import PREFIX, Fire, entity_id, make_options, published
from .test_entities import answer_commands
from .test_options_flow import add_sensor, finish, last_config

ROMS = ["28ff641e8216015e", "2801020304050671", "28aabbccddeeff12"]
I2C_FORM = {"name": "Room", "sda": "4", "scl": "5", "i2c_freq": 100000, "address": "56"}


@pytest.fixture
def announce(vectors: dict[str, Any]) -> dict[str, Any]:
    """The vectors' announce of a node whose firmware runs every type."""
    return dict(vectors["node_payloads"]["announce"]) | {"caps": list(catalogue.TYPES)}


async def configure(hass: HomeAssistant, result: dict[str, Any], data: dict[str, Any]) -> Any:
    return await hass.config_entries.options.async_configure(result["flow_id"], data)


async def add_i2c(
    hass: HomeAssistant, entry: MockConfigEntry, kind: str, **form: Any
) -> dict[str, Any]:
    result = await add_sensor(hass, entry, kind)
    assert result["step_id"] == "peripheral"
    return await configure(hass, result, catalogue.TYPES[kind].defaults | form)


async def test_i2c_device_is_configured_with_its_bus_and_shows_units(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient, fire: Fire
) -> None:
    result = await add_sensor(hass, loaded_entry, "aht20")
    schema = result["data_schema"].schema
    assert {"name", "sda", "scl", "i2c_freq", "address", "model", "interval"} <= {
        str(key) for key in schema
    }
    # An rp2 offers its I2C0/I2C1 SDA pins only; the sensors' pins (14, 15, 16) are not.
    sda_options = next(v for k, v in schema.items() if str(k) == "sda").config["options"]
    assert sda_options == ["0", "4", "8", "12", "20", "2", "6", "10", "18", "26"]
    result = await configure(hass, result, I2C_FORM | {"model": "aht10", "interval": 300})
    await finish(hass, result)
    await hass.async_block_till_done()
    body = last_config(hass, mqtt_mock)
    assert body["sensors"][-1] == {
        "id": "room",
        "type": "aht20",
        "bus": {"sda": 4, "scl": 5, "freq": 100000},
        "address": 0x38,
        "interval": 300,
        "model": "aht10",
    }
    assert protocol.validate_config(body, "rp2") == []
    fire("state/room", {"temperature": 21.53, "humidity": 40.2})
    await hass.async_block_till_done()
    temperature = hass.states.get(entity_id(hass, "sensor", "room_temperature"))
    humidity = hass.states.get(entity_id(hass, "sensor", "room_humidity"))
    assert temperature is not None and humidity is not None
    assert temperature.state == "21.53"
    assert temperature.attributes["unit_of_measurement"] == "°C"
    assert temperature.attributes["device_class"] == SensorDeviceClass.TEMPERATURE
    assert temperature.attributes["state_class"] == SensorStateClass.MEASUREMENT
    assert temperature.attributes["friendly_name"] == "Kitchen Room temperature"
    assert humidity.attributes["unit_of_measurement"] == "%"


@pytest.mark.parametrize(
    "case",
    [
        (
            "scd4x",
            {"address": "98"},
            {"co2": 812, "temperature": 22.1, "humidity": 45.0},
            {"co2": ("ppm", "carbon_dioxide", "812")},
        ),
        (
            "bme280",
            {"address": "118", "model": "bme280"},
            {"temperature": 20.0, "humidity": 50.0, "pressure": 1013.25},
            {
                "pressure": ("hPa", "atmospheric_pressure", "1013.25"),
                "humidity": ("%", "humidity", "50.0"),
            },
        ),
        (
            "bh1750",
            {"address": "35"},
            {"illuminance": 250.8},
            {"illuminance": ("lx", "illuminance", "250.8")},
        ),
    ],
)
async def test_every_value_has_unit_and_classes(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, case: tuple[Any, ...]
) -> None:
    kind, form, state, expected = case
    result = await add_i2c(hass, loaded_entry, kind, **(I2C_FORM | form))
    await finish(hass, result)
    await hass.async_block_till_done()
    fire("state/room", state)
    await hass.async_block_till_done()
    for key, (unit, device_class, value) in expected.items():
        shown = hass.states.get(entity_id(hass, "sensor", f"room_{key}"))
        assert shown is not None
        assert shown.state == value
        assert shown.attributes["unit_of_measurement"] == unit
        assert shown.attributes["device_class"] == device_class
        assert shown.attributes["state_class"] == "measurement"


async def test_bmp280_has_no_humidity_entity(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire
) -> None:
    result = await add_i2c(hass, loaded_entry, "bme280", **(I2C_FORM | {"address": "119"}),
                           model="bmp280")  # fmt: skip
    await finish(hass, result)
    await hass.async_block_till_done()
    fire("state/room", {"temperature": 20.0, "pressure": 990.5})  # no humidity: a BMP280
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    assert registry.async_get_entity_id("sensor", DOMAIN, "mh-a1b2c3_room_humidity") is None
    pressure = hass.states.get(entity_id(hass, "sensor", "room_pressure"))
    assert pressure is not None and pressure.state == "990.5"


@pytest.mark.parametrize(
    ("form", "errors"),
    [
        ({"scl": "7"}, {"scl": "i2c_pins"}),  # SDA 4 is I2C0, SCL 7 is I2C1
        ({"sda": "1"}, {"sda": "i2c_pins"}),  # an SCL pin as SDA
        ({"sda": "GP99"}, {"sda": "invalid_pin"}),
        ({"sda": "not a pin"}, {"sda": "invalid_pin"}),
        ({"i2c_freq": 1_000_000}, {"i2c_freq": "i2c_freq_range"}),
        ({"address": "57", "name": "Other"}, {"address": "address_in_use"}),
        ({"sda": "8", "scl": "9", "name": "Other"}, {"base": "i2c_controller_in_use"}),
        ({"sda": "14", "scl": "15", "name": "Other"}, {"sda": "pin_in_use", "scl": "pin_in_use"}),
    ],
)
async def test_i2c_form_errors(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, form: dict[str, Any], errors: dict[str, str]
) -> None:
    """Each wrong bus field is named, and nothing is stored (an AHT20 at 0x39 on GP4/GP5 and
    the lamp on GP14, the climate sensor on GP15 are there already)."""
    existing = {
        "id": "first",
        "type": "aht20",
        "name": "First",
        "bus": {"sda": 4, "scl": 5, "freq": 100000},
        "address": 0x39,
    }
    hass.config_entries.async_update_entry(
        loaded_entry, options=make_options([*make_options()["sensors"], existing])
    )
    await hass.async_block_till_done()
    result = await add_i2c(hass, loaded_entry, "aht20", **(I2C_FORM | form))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    result = await configure(hass, result, I2C_FORM | {"interval": 30, "model": "aht20"})
    assert result["type"] is FlowResultType.MENU  # fixed: accepted


async def test_third_bus_is_refused(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    result = await add_i2c(hass, loaded_entry, "aht20", **I2C_FORM)
    result = await configure(
        hass, {"flow_id": result["flow_id"]}, {"next_step_id": "add_peripheral"}
    )
    result = await configure(hass, result, {"type": "sht3x"})
    result = await configure(
        hass,
        result,
        I2C_FORM | {"name": "B", "sda": "2", "scl": "3", "address": "68", "interval": 30},
    )
    assert result["type"] is FlowResultType.MENU
    result = await configure(hass, result, {"next_step_id": "add_peripheral"})
    result = await configure(hass, result, {"type": "bh1750"})
    result = await configure(
        hass,
        result,
        I2C_FORM | {"name": "C", "sda": "20", "scl": "21", "address": "35", "interval": 30},
    )
    assert result["errors"] == {"base": "too_many_buses"}


async def test_one_frequency_per_bus(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    """A device added at 400 kHz moves its bus there: the bus's other devices with it."""
    result = await add_i2c(hass, loaded_entry, "aht20", **I2C_FORM)
    result = await configure(hass, result, {"next_step_id": "add_peripheral"})
    result = await configure(hass, result, {"type": "sht4x"})
    form = I2C_FORM | {"name": "Fast", "address": "68", "i2c_freq": 400000, "interval": 30}
    result = await configure(hass, result, form)
    await finish(hass, result)
    await hass.async_block_till_done()
    body = last_config(hass, mqtt_mock)
    assert [s["bus"]["freq"] for s in body["sensors"] if "bus" in s] == [400000, 400000]


async def test_edit_keeps_the_place_and_suggests_the_bus(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    result = await add_i2c(hass, loaded_entry, "aht20", **I2C_FORM)
    await finish(hass, result)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    result = await configure(hass, result, {"next_step_id": "edit_peripheral"})
    result = await configure(hass, result, {"peripheral": "room"})
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description
    }
    assert {key: suggested[key] for key in ("sda", "scl", "i2c_freq", "address")} == {
        "sda": "4",
        "scl": "5",
        "i2c_freq": 100000,
        "address": "56",
    }
    result = await configure(hass, result, I2C_FORM | {"address": "57", "interval": 60,
                                                       "model": "aht20"})  # fmt: skip
    await finish(hass, result)
    await hass.async_block_till_done()
    body = last_config(hass, mqtt_mock)
    assert [s["id"] for s in body["sensors"]] == ["climate", "pir", "lamp", "status", "room"]
    assert body["sensors"][-1]["address"] == 0x39


# --- 1-Wire: the node's scan --------------------------------------------------------------------


async def open_onewire(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    result = await add_sensor(hass, entry, "ds18b20")
    assert result["step_id"] == "onewire"
    return result


def scan_commands(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> list[dict[str, Any]]:
    key = hass.config_entries.async_entries(DOMAIN)[0].runtime_data.key
    return [verify(key, f"{PREFIX}/cmd", payload) for payload, _, _ in published(mqtt_mock, "cmd")]


async def test_scan_offers_the_probes_found_to_be_named(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient, fire: Fire
) -> None:
    result = await open_onewire(hass, loaded_entry)
    answer_commands(hass, mqtt_mock, found=ROMS[:3])
    result = await configure(hass, result, {"pin": "22", "interval": 10})
    assert scan_commands(hass, mqtt_mock)[-1] | {"n": 0} == {
        "n": 0,
        "cmd": "scan",
        "bus": "onewire",
        "pin": 22,
    }
    assert result["step_id"] == "probes"
    assert result["description_placeholders"] == {"pin": "22", "count": "3"}
    assert [str(key) for key in result["data_schema"].schema] == ROMS[:3]
    suggested = [key.description["suggested_value"] for key in result["data_schema"].schema]
    assert suggested == ["T1", "T2", "T3"]
    # Two named (the hot side), the third left out.
    result = await configure(hass, result, {ROMS[0]: "Hot in", ROMS[1]: "Hot out", ROMS[2]: ""})
    assert result["type"] is FlowResultType.MENU
    await finish(hass, result)
    await hass.async_block_till_done()
    body = last_config(hass, mqtt_mock)
    assert body["sensors"][-2:] == [
        {"id": "hot_in", "type": "ds18b20", "pin": 22, "rom": ROMS[0], "interval": 10},
        {"id": "hot_out", "type": "ds18b20", "pin": 22, "rom": ROMS[1], "interval": 10},
    ]
    # A second scan offers only the probe not configured yet.
    result = await open_onewire(hass, loaded_entry)
    result = await configure(hass, result, {"pin": "22", "interval": 10})
    assert [str(key) for key in result["data_schema"].schema] == [ROMS[2]]
    fire("state/hot_in", {"temperature": 61.5})
    await hass.async_block_till_done()
    shown = hass.states.get(entity_id(hass, "sensor", "hot_in_temperature"))
    assert shown is not None and shown.state == "61.5"
    assert shown.attributes["unit_of_measurement"] == "°C"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ({"found": []}, "no_probes"),
        ({"ok": False, "error": "pin in use"}, "scan_failed"),
        (None, "scan_failed"),  # no reply
    ],
)
async def test_scan_errors(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    reply: dict[str, Any] | None,
    error: str,
) -> None:
    result = await open_onewire(hass, loaded_entry)
    if reply is not None:
        answer_commands(hass, mqtt_mock, **reply)
    result = await configure(hass, result, {"pin": "22", "interval": 30})
    assert result["step_id"] == "onewire"
    assert result["errors"] == {"base": error}


async def test_scan_of_an_offline_node(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient, fire: Fire
) -> None:
    fire("status", "offline")
    await hass.async_block_till_done()
    result = await open_onewire(hass, loaded_entry)
    result = await configure(hass, result, {"pin": "22", "interval": 30})
    assert result["errors"] == {"base": "node_offline"}
    assert published(mqtt_mock, "cmd") == []  # nothing sent


async def test_scan_pin_errors_are_checked_before_scanning(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    result = await open_onewire(hass, loaded_entry)
    result = await configure(hass, result, {"pin": "14", "interval": 30})  # the lamp's pin
    assert result["errors"] == {"pin": "pin_in_use"}
    result = await configure(hass, result, {"pin": "xyz", "interval": 30})
    assert result["errors"] == {"pin": "invalid_pin"}
    result = await configure(hass, result, {"pin": "22", "interval": 1})
    assert result["errors"] == {"interval": "interval_range"}
    assert published(mqtt_mock, "cmd") == []


async def test_probe_names_are_checked(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    result = await open_onewire(hass, loaded_entry)
    answer_commands(hass, mqtt_mock, found=ROMS[:2])
    result = await configure(hass, result, {"pin": "22", "interval": 30})
    result = await configure(hass, result, {ROMS[0]: "", ROMS[1]: " "})
    assert result["errors"] == {"base": "name_a_probe"}
    result = await configure(hass, result, {ROMS[0]: "T1", ROMS[1]: "t1"})
    assert result["errors"] == {ROMS[1]: "name_in_use"}
    result = await configure(hass, result, {ROMS[0]: "Lamp", ROMS[1]: "x" * 33})
    assert result["errors"] == {ROMS[0]: "name_in_use", ROMS[1]: "invalid_name"}
    result = await configure(hass, result, {ROMS[0]: "T1", ROMS[1]: "T2"})
    assert result["type"] is FlowResultType.MENU


async def test_hostile_scan_replies_are_dropped(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A reply whose findings are not ROM codes (markup, too many, not strings) is dropped:
    the scan gets no answer and says so."""
    for found in (["<b>28ff</b>"], [ROMS[0]] * 129, [{"rom": ROMS[0]}], [-1], ["28FF641E8216015E"]):
        result = await open_onewire(hass, loaded_entry)
        answer_commands(hass, mqtt_mock, found=found)
        result = await configure(hass, result, {"pin": "22", "interval": 30})
        assert result["errors"] == {"base": "scan_failed"}, found
    assert "Dropped a payload" in caplog.text


async def test_edit_a_probe(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
) -> None:
    probe = {"id": "t1", "type": "ds18b20", "name": "T1", "pin": 22, "rom": ROMS[0], "interval": 30}
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, options=make_options([probe]))
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    result = await configure(hass, result, {"next_step_id": "edit_peripheral"})
    result = await configure(hass, result, {"peripheral": "t1"})
    assert result["step_id"] == "peripheral"
    form = {"name": "Hot in", "pin": "22", "interval": 60}
    result = await configure(hass, result, form | {"rom": "28:FF:64"})
    assert result["errors"] == {"rom": "invalid_rom"}
    result = await configure(hass, result, form | {"rom": "28 FF 64 1E 82 16 01 5E"})
    await finish(hass, result)
    await hass.async_block_till_done()
    body = last_config(hass, mqtt_mock)
    assert body["sensors"] == [
        {"id": "t1", "type": "ds18b20", "pin": 22, "rom": ROMS[0], "interval": 60}
    ]


# --- faults ----------------------------------------------------------------------------------


async def test_device_that_does_not_answer(
    *,
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
    fire: Fire,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its entities are unavailable, Home Assistant logs it once, a repair names it; the other
    probe goes on; all clears when it reads again."""
    probes = [
        {"id": f"t{i}", "type": "ds18b20", "name": f"T{i}", "pin": 22, "rom": rom}
        for i, rom in enumerate(ROMS[:2], 1)
    ]
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, options=make_options(probes))
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    fire("status", "online", retain=True)
    fire("state/t1", {"temperature": 20.5}, retain=True)
    fire("state/t2", {"temperature": 30.0}, retain=True)
    await hass.async_block_till_done()
    t1 = entity_id(hass, "sensor", "t1_temperature")
    t2 = entity_id(hass, "sensor", "t2_temperature")
    issue_id = f"device_fault_{config_entry.unique_id}"
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            fire("state/t2", {"error": "no answer from 28aa"})
            await hass.async_block_till_done()
        assert hass.states.get(t2).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
        assert hass.states.get(t1).state == "20.5"  # type: ignore[union-attr]
        assert caplog.text.count("T2 reports an error: no answer from 28aa") == 1
        issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_placeholders == {
            "name": "Kitchen",
            "devices": "T2 (no answer from 28aa)",
        }
        fire("state/t2", {"temperature": 30.5})
        await hass.async_block_till_done()
    assert hass.states.get(t2).state == "30.5"  # type: ignore[union-attr]
    assert "T2 reads again" in caplog.text
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_fault_repair_goes_with_the_device(
    hass: HomeAssistant, config_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient,
    fleet_key: bytes, fire: Fire,
) -> None:  # fmt: skip
    probe = {"id": "t1", "type": "ds18b20", "name": "T1", "pin": 22, "rom": ROMS[0]}
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, options=make_options([probe]))
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    fire("status", "online", retain=True)
    fire("state/t1", {"error": "CRC check failed"})
    await hass.async_block_till_done()
    issue_id = f"device_fault_{config_entry.unique_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    hass.config_entries.async_update_entry(config_entry, options=make_options([], version=8))
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


def test_scan_reply_parsing() -> None:
    reply = protocol.parse_reply(json.dumps({"n": 1, "ok": True, "error": None, "found": [56, 98]}))
    assert reply.found == (56, 98)
    assert protocol.parse_reply('{"n": 1, "ok": true, "error": null}').found == ()
    for found in ([128], [True], "28ff641e8216015e", [None]):
        with pytest.raises(protocol.ProtocolError, match="found"):
            protocol.parse_reply(json.dumps({"n": 1, "ok": True, "found": found}))
