"""Entities: states from the node, signed commands, availability, restore, dynamic changes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.light import ATTR_BRIGHTNESS, ATTR_TRANSITION
from homeassistant.components.mqtt import MQTT_CONNECTION_STATE
from homeassistant.const import (
    ATTR_DEVICE_CLASS,
    ATTR_ENTITY_ID,
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_send
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    mock_restore_cache_with_extra_data,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome import node as node_module
from custom_components.microhome.protocol import verify

from .conftest import NODE_ID, PREFIX, SENSORS, Fire, entity_id, make_options, published


async def test_entities_and_device(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    registry = er.async_get(hass)
    entries = er.async_entries_for_config_entry(registry, loaded_entry.entry_id)
    assert sorted(e.unique_id for e in entries) == sorted(
        f"{NODE_ID}_{key}"
        for key in (
            "climate_temperature",
            "climate_humidity",
            "pir",
            "lamp",
            "status",
            "reboot",
            "identify",
            "rssi",
            "uptime",
            "mem_free",
            "ip",
            "reset_cause",
            "firmware",
        )
    )
    disabled = {e.unique_id for e in entries if e.disabled_by}
    assert disabled == {f"{NODE_ID}_{k}" for k in ("uptime", "mem_free", "reset_cause")}
    temperature = hass.states.get(entity_id(hass, "sensor", "climate_temperature"))
    assert temperature is not None
    assert temperature.attributes["friendly_name"] == "Kitchen Climate temperature"
    assert temperature.attributes[ATTR_UNIT_OF_MEASUREMENT] == "°C"
    assert temperature.attributes["state_class"] == "measurement"
    motion = hass.states.get(entity_id(hass, "binary_sensor", "pir"))
    assert motion is not None
    assert motion.attributes[ATTR_DEVICE_CLASS] == "motion"
    assert motion.attributes["friendly_name"] == "Kitchen Hall motion"


async def test_sensor_states(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire
) -> None:
    temperature = entity_id(hass, "sensor", "climate_temperature")
    humidity = entity_id(hass, "sensor", "climate_humidity")
    assert hass.states.get(temperature).state == STATE_UNKNOWN
    fire("state/climate", {"temperature": 21.5, "humidity": 40.2})
    await hass.async_block_till_done()
    assert hass.states.get(temperature).state == "21.5"
    assert hass.states.get(humidity).state == "40.2"
    fire("state/climate", {"error": "timeout"})
    await hass.async_block_till_done()
    assert hass.states.get(temperature).state == STATE_UNAVAILABLE  # a reading that failed

    motion = entity_id(hass, "binary_sensor", "pir")
    fire("state/pir", {"motion": True})
    await hass.async_block_till_done()
    assert hass.states.get(motion).state == STATE_ON
    fire("state/pir", {"motion": False})
    await hass.async_block_till_done()
    assert hass.states.get(motion).state == STATE_OFF


async def test_diagnostic_sensors(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, vectors: dict[str, Any]
) -> None:
    registry = er.async_get(hass)
    for key in ("uptime", "mem_free", "reset_cause"):
        registry.async_update_entity(entity_id(hass, "sensor", key), disabled_by=None)
    await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    fire("status", "online")
    fire("telemetry", vectors["node_payloads"]["telemetry"])
    await hass.async_block_till_done()
    values = {
        key: hass.states.get(entity_id(hass, "sensor", key)).state
        for key in ("rssi", "uptime", "mem_free", "reset_cause", "ip")
    }
    assert values == {
        "rssi": "-61",
        "uptime": "3600",
        "mem_free": "81234",
        "reset_cause": "power_on",
        "ip": "192.168.1.50",
    }
    fire("telemetry", vectors["node_payloads"]["telemetry"] | {"ip": "10.0.0.9"})
    await hass.async_block_till_done()
    assert hass.states.get(entity_id(hass, "sensor", "ip")).state == "10.0.0.9"


async def test_availability(hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire) -> None:
    lamp = entity_id(hass, "light", "lamp")
    reboot = entity_id(hass, "button", "reboot")
    assert hass.states.get(lamp).state != STATE_UNAVAILABLE
    fire("status", "offline")
    await hass.async_block_till_done()
    assert hass.states.get(lamp).state == STATE_UNAVAILABLE
    assert hass.states.get(reboot).state == STATE_UNAVAILABLE
    fire("status", "online")
    await hass.async_block_till_done()
    assert hass.states.get(lamp).state != STATE_UNAVAILABLE
    # The broker connection is lost: every entity of the node is unavailable.
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, False)
    await hass.async_block_till_done()
    assert hass.states.get(lamp).state == STATE_UNAVAILABLE
    async_dispatcher_send(hass, MQTT_CONNECTION_STATE, True)
    await hass.async_block_till_done()
    assert hass.states.get(lamp).state != STATE_UNAVAILABLE


async def test_last_seen(hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire) -> None:
    node = loaded_entry.runtime_data
    assert node.online
    assert node.firmware == "1.2.3"
    node.last_seen = None
    fire("state/pir", {"motion": True}, retain=True)  # retained: sent before, not "seen" now
    await hass.async_block_till_done()
    assert node.last_seen is None
    fire("log", {"boot": 1, "entries": []})
    await hass.async_block_till_done()
    assert node.last_seen is not None


def answer_commands(hass: HomeAssistant, mqtt_mock: MqttMockHAClient, **reply: Any) -> None:
    """Make the node answer every command it receives with reply (default: ok)."""

    async def on_publish(topic: str, payload: str, qos: int, retain: bool, **kwargs: Any) -> None:
        if topic == f"{PREFIX}/cmd":
            n = json.loads(payload.split(" ", 1)[1])["n"]
            answer = json.dumps({"n": n, "ok": True, "error": None} | reply)
            hass.loop.call_soon(async_fire_mqtt_message, hass, f"{PREFIX}/reply", answer)

    mqtt_mock.async_publish.side_effect = on_publish


async def _call(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    domain: str,
    service: str,
    data: dict[str, Any],
    **reply: Any,
) -> dict[str, Any]:
    """Call a service, let the node answer its command, return the verified command body."""
    answer_commands(hass, mqtt_mock, **reply)
    await hass.services.async_call(domain, service, data, blocking=True)
    payload, qos, retain = published(mqtt_mock, "cmd")[-1]
    assert (qos, retain) == (1, False)
    return verify(loaded_key(hass), f"{PREFIX}/cmd", payload)


def loaded_key(hass: HomeAssistant) -> bytes:
    entry = hass.config_entries.async_entries("microhome")[0]
    return entry.runtime_data.key


async def test_led_commands_and_echo(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, mqtt_mock: MqttMockHAClient
) -> None:
    lamp = entity_id(hass, "light", "lamp")
    fire("state/lamp", {"on": False, "brightness": 0})
    await hass.async_block_till_done()
    assert hass.states.get(lamp).state == STATE_OFF
    body = await _call(
        hass,
        mqtt_mock,
        "light",
        "turn_on",
        {ATTR_ENTITY_ID: lamp, ATTR_BRIGHTNESS: 128, ATTR_TRANSITION: 0.5},
    )
    assert {k: v for k, v in body.items() if k != "n"} == {
        "cmd": "set",
        "id": "lamp",
        "on": True,
        "brightness": 128,
        "transition": 0.5,
    }
    # No optimistic state: the light changes only on the node's echo.
    assert hass.states.get(lamp).state == STATE_OFF
    fire("state/lamp", {"on": True, "brightness": 128})
    await hass.async_block_till_done()
    state = hass.states.get(lamp)
    assert state.state == STATE_ON
    assert state.attributes[ATTR_BRIGHTNESS] == 128
    body = await _call(
        hass, mqtt_mock, "light", "turn_off", {ATTR_ENTITY_ID: lamp, ATTR_TRANSITION: 99}
    )
    assert body["on"] is False
    assert body["transition"] == 60
    body = await _call(hass, mqtt_mock, "light", "turn_on", {ATTR_ENTITY_ID: lamp})
    assert "brightness" not in body
    assert "transition" not in body


async def test_status_led(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, mqtt_mock: MqttMockHAClient
) -> None:
    status = entity_id(hass, "light", "status")
    assert hass.states.get(status).attributes["supported_color_modes"] == ["onoff"]
    body = await _call(hass, mqtt_mock, "light", "turn_on", {ATTR_ENTITY_ID: status})
    assert {k: v for k, v in body.items() if k != "n"} == {"cmd": "set", "id": "status", "on": True}
    fire("state/status", {"on": True})
    await hass.async_block_till_done()
    assert hass.states.get(status).state == STATE_ON
    body = await _call(hass, mqtt_mock, "light", "turn_off", {ATTR_ENTITY_ID: status})
    assert body["on"] is False


async def test_buttons(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, mqtt_mock: MqttMockHAClient
) -> None:
    body = await _call(
        hass,
        mqtt_mock,
        "button",
        "press",
        {ATTR_ENTITY_ID: entity_id(hass, "button", "reboot")},
    )
    assert body["cmd"] == "reboot"
    body = await _call(
        hass,
        mqtt_mock,
        "button",
        "press",
        {ATTR_ENTITY_ID: entity_id(hass, "button", "identify")},
    )
    assert (body["cmd"], body["seconds"]) == ("identify", 10)


async def test_command_signature_matches_vectors(
    *,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    fire: Fire,
    mqtt_mock: MqttMockHAClient,
    vectors: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """With the vectors' fleet key and n, the light command is the vector byte for byte."""
    freezer.move_to("2025-01-01T00:00:00+00:00")  # wall clock below the vector's n
    hass.data.setdefault(node_module._LAST_N, {})[NODE_ID] = 1763800000000
    await _call(
        hass,
        mqtt_mock,
        "light",
        "turn_on",
        {
            ATTR_ENTITY_ID: entity_id(hass, "light", "lamp"),
            ATTR_BRIGHTNESS: 128,
            ATTR_TRANSITION: 0.5,
        },
    )
    assert published(mqtt_mock, "cmd")[-1][0] == vectors["signed"][1]["payload"]
    await _call(
        hass,
        mqtt_mock,
        "button",
        "press",
        {ATTR_ENTITY_ID: entity_id(hass, "button", "reboot")},
    )
    assert published(mqtt_mock, "cmd")[-1][0] == vectors["signed"][2]["payload"]


async def test_n_grows_within_one_millisecond(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    fire: Fire,
    mqtt_mock: MqttMockHAClient,
    freezer: FrozenDateTimeFactory,
) -> None:
    lamp = entity_id(hass, "light", "lamp")
    numbers = []
    for _ in range(3):
        numbers.append(
            (await _call(hass, mqtt_mock, "light", "turn_on", {ATTR_ENTITY_ID: lamp}))["n"]
        )
    assert numbers[1] == numbers[0] + 1
    assert numbers[2] == numbers[1] + 1


async def test_refused_command(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, mqtt_mock: MqttMockHAClient
) -> None:
    with pytest.raises(HomeAssistantError, match="Kitchen refused the command: busy") as err:
        await _call(
            hass,
            mqtt_mock,
            "light",
            "turn_on",
            {ATTR_ENTITY_ID: entity_id(hass, "light", "lamp")},
            ok=False,
            error="busy",
        )
    assert err.value.translation_key == "command_refused"


async def test_command_without_reply(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire
) -> None:
    fire("reply", {"n": 5, "ok": True, "error": None})  # answers nothing we sent
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError, match="did not answer") as err:
        await hass.services.async_call(
            "button",
            "press",
            {ATTR_ENTITY_ID: entity_id(hass, "button", "reboot")},
            blocking=True,
        )
    assert err.value.translation_key == "no_reply"


async def test_command_to_offline_node(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, mqtt_mock: MqttMockHAClient
) -> None:
    fire("status", "offline")
    await hass.async_block_till_done()
    with pytest.raises(HomeAssistantError, match="Kitchen is offline"):
        await loaded_entry.runtime_data.async_command("reboot")
    assert published(mqtt_mock, "cmd") == []


async def test_restore_after_restart(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
    config_entry: MockConfigEntry,
    fire: Fire,
) -> None:
    """Until the node reports, entities show their states from before the restart."""
    config_entry.add_to_hass(hass)
    registry = er.async_get(hass)
    ids = {}
    for platform, key in (
        ("sensor", "climate_temperature"),
        ("binary_sensor", "pir"),
        ("light", "lamp"),
        ("light", "status"),
        ("sensor", "rssi"),
    ):
        ids[key] = registry.async_get_or_create(
            platform, "microhome", f"{NODE_ID}_{key}", config_entry=config_entry
        ).entity_id
    mock_restore_cache_with_extra_data(
        hass,
        [
            (State(ids["pir"], STATE_ON), {}),
            (State(ids["lamp"], STATE_ON, {ATTR_BRIGHTNESS: 77}), {}),
            (State(ids["status"], STATE_ON), {}),
            (
                State(ids["climate_temperature"], "19.5"),
                {"native_value": 19.5, "native_unit_of_measurement": "°C"},
            ),
            (State(ids["rssi"], "-70"), {"native_value": -70, "native_unit_of_measurement": "dBm"}),
        ],
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    fire("status", "online", retain=True)
    await hass.async_block_till_done()
    assert hass.states.get(ids["climate_temperature"]).state == "19.5"
    assert hass.states.get(ids["rssi"]).state == "-70"
    assert hass.states.get(ids["pir"]).state == STATE_ON
    lamp = hass.states.get(ids["lamp"])
    assert (lamp.state, lamp.attributes[ATTR_BRIGHTNESS]) == (STATE_ON, 77)
    assert hass.states.get(ids["status"]).state == STATE_ON
    fire("state/lamp", {"on": False, "brightness": 0})
    fire("state/climate", {"temperature": 22.0, "humidity": 50.0})
    await hass.async_block_till_done()
    assert hass.states.get(ids["lamp"]).state == STATE_OFF
    assert hass.states.get(ids["climate_temperature"]).state == "22.0"


async def test_sensors_added_and_removed_without_reload(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire
) -> None:
    registry = er.async_get(hass)
    lamp = entity_id(hass, "light", "lamp")
    options = make_options([SENSORS[1], SENSORS[3]], version=8)
    options["sensors"].append({"id": "desk", "type": "led", "name": "Desk", "pin": 2, "freq": 500})
    options["sensors"][0]["name"] = "Porch motion"
    hass.config_entries.async_update_entry(loaded_entry, options=options)
    await hass.async_block_till_done()
    # The entry was not reloaded: the node object is the same.
    assert loaded_entry.runtime_data.online
    assert registry.async_get(lamp) is None
    assert hass.states.get(lamp) is None
    for key in ("climate_temperature", "climate_humidity"):
        assert registry.async_get_entity_id("sensor", "microhome", f"{NODE_ID}_{key}") is None
    desk = entity_id(hass, "light", "desk")
    assert hass.states.get(desk).attributes["friendly_name"] == "Kitchen Desk"
    fire("state/desk", {"on": True, "brightness": 10})
    await hass.async_block_till_done()
    assert hass.states.get(desk).state == STATE_ON
    pir = hass.states.get(entity_id(hass, "binary_sensor", "pir"))
    assert pir.attributes["friendly_name"] == "Kitchen Porch motion"


async def test_stale_entities_removed_at_setup(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
    config_entry: MockConfigEntry,
) -> None:
    config_entry.add_to_hass(hass)
    registry = er.async_get(hass)
    stale = registry.async_get_or_create(
        "light", "microhome", f"{NODE_ID}_gone", config_entry=config_entry
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert registry.async_get(stale.entity_id) is None


MALFORMED_TOPICS = {
    "announce": "announce",
    "telemetry": "telemetry",
    "config_state": "config/state",
    "ota_status": "ota/status",
    "reply": "reply",
    "state_dht22": "state/climate",
    "state_motion": "state/pir",
    "state_led": "state/lamp",
}


async def test_malformed_payloads_dropped(
    *,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    fire: Fire,
    vectors: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every malformed payload is logged once per topic and changes nothing."""
    fire("state/climate", {"temperature": 20.0, "humidity": 30.0})
    fire("state/pir", {"motion": True})
    fire("state/lamp", {"on": True, "brightness": 9})
    fire("telemetry", vectors["node_payloads"]["telemetry"])
    await hass.async_block_till_done()
    node = loaded_entry.runtime_data
    before = {s.entity_id: s.state for s in hass.states.async_all()}
    announce, telemetry = node.announce, node.telemetry
    for kind, payloads in vectors["malformed_node_payloads"].items():
        if kind == "log":
            continue  # logs are parsed by the log store
        caplog.clear()
        for payload in payloads:
            fire(MALFORMED_TOPICS[kind], payload)
            await hass.async_block_till_done()
        warnings = [r for r in caplog.records if r.levelname == "WARNING"]
        assert len(warnings) <= 1, kind
        if kind != "announce" or payloads != [""]:
            assert f"{PREFIX}/{MALFORMED_TOPICS[kind]}" in caplog.text, kind
    assert {s.entity_id: s.state for s in hass.states.async_all()} == before
    assert (node.announce, node.telemetry) == (announce, telemetry)
    assert node.config_state is None and node.ota_status is None
    caplog.clear()
    for suffix, payload in (
        ("status", "maybe"),
        ("state/nope", {"on": True}),
        ("telemetry", "x" * 16385),
    ):
        fire(suffix, payload)
        await hass.async_block_till_done()
    assert "unknown sensor id 'nope'" in caplog.text
    assert "expected online or offline" in caplog.text
    assert node.online


async def test_warned_once_per_topic(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    fire: Fire,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for _ in range(3):
        fire("telemetry", "not json")
        await hass.async_block_till_done()
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and "telemetry" in r.message]
    assert len(warnings) == 1


async def test_empty_retained_payloads_ignored(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    fire: Fire,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for suffix in ("announce", "state/gone", "config/state", "ota/status"):
        fire(suffix, "", retain=True)
    await hass.async_block_till_done()
    assert "Dropped" not in caplog.text
    assert loaded_entry.runtime_data.announce is not None


async def test_ota_status_kept(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, vectors: dict[str, Any]
) -> None:
    fire("ota/status", vectors["node_payloads"]["ota_status"])
    await hass.async_block_till_done()
    assert loaded_entry.runtime_data.ota_status.progress == 40
