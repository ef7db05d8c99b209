"""Diagnostics keep their last values across a restart until the node's next telemetry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_restore_state_shutdown_restart,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome import DISCOVER_COOLDOWN
from custom_components.microhome.const import DOMAIN

from .conftest import NODE_ID, Fire, entity_id, make_options

DIAGNOSTICS = ("rssi", "uptime", "mem_free", "reset_cause", "ip")


def diagnostics(hass: HomeAssistant) -> dict[str, str]:
    return {key: hass.states.get(entity_id(hass, "sensor", key)).state for key in DIAGNOSTICS}


async def reported(hass: HomeAssistant, entry: MockConfigEntry, fire: Fire, telemetry: Any) -> None:
    """Every diagnostic enabled, and one telemetry from the node."""
    registry = er.async_get(hass)
    for key in ("uptime", "mem_free", "reset_cause"):
        registry.async_update_entity(entity_id(hass, "sensor", key), disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    fire("status", "online")
    fire("telemetry", telemetry | {"rssi": -58})
    await hass.async_block_till_done()


EXPECTED = {
    "rssi": "-58",
    "uptime": "3600",
    "mem_free": "81234",
    "reset_cause": "power_on",
    # The node's address as its announce and telemetry give it.
    "ip": "192.168.1.50",
}


async def test_diagnostics_survive_a_restart_of_home_assistant(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, vectors: dict[str, Any]
) -> None:
    await reported(hass, loaded_entry, fire, vectors["node_payloads"]["telemetry"])
    assert diagnostics(hass) == EXPECTED
    # Home Assistant stops (states saved to storage), starts again (loaded from it) and sets
    # the entry up: the node has not sent telemetry since.
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await async_mock_restore_state_shutdown_restart(hass)
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    # Offline until the broker hands over the node's retained status.
    assert set(diagnostics(hass).values()) == {STATE_UNAVAILABLE}
    fire("status", "online", retain=True)
    await hass.async_block_till_done()
    assert diagnostics(hass) == EXPECTED
    # The next telemetry replaces them.
    fire("telemetry", vectors["node_payloads"]["telemetry"] | {"rssi": -70})
    await hass.async_block_till_done()
    assert diagnostics(hass)["rssi"] == "-70"


async def test_diagnostics_survive_a_reload_of_the_entry_and_hostile_telemetry(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, vectors: dict[str, Any]
) -> None:
    await reported(hass, loaded_entry, fire, vectors["node_payloads"]["telemetry"])
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    fire("status", "online", retain=True)
    await hass.async_block_till_done()
    assert diagnostics(hass) == EXPECTED
    for payload in ("not json", "{}", '{"rssi": NaN}', "[" * 5000, ""):
        fire("telemetry", payload)
    await hass.async_block_till_done()
    assert diagnostics(hass) == EXPECTED


async def test_a_new_node_shows_its_address_at_once(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Before any telemetry the IP address comes from the node's retained announce."""
    assert hass.states.get(entity_id(hass, "sensor", "ip")).state == "192.168.1.50"
    # Signal strength, uptime and memory come with the node's telemetry only.
    assert hass.states.get(entity_id(hass, "sensor", "rssi")).state == STATE_UNKNOWN


async def test_a_node_added_by_hand_is_asked_to_announce(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
    announce: dict[str, Any],
    fire: Fire,
) -> None:
    """Its announce is not on the broker: the nodes are asked to announce at once."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    await hass.config_entries.flow.async_configure(
        result["flow_id"], {"node_id": NODE_ID, "platform": "rp2"}
    )
    await hass.async_block_till_done()
    discover = [c.args for c in mqtt_mock.async_publish.call_args_list]
    assert [args[0] for args in discover].count("microhome/discover") == 1
    fire("status", "online", retain=True)
    fire("announce", announce)
    await hass.async_block_till_done()
    assert hass.states.get(entity_id(hass, "sensor", "ip")).state == "192.168.1.50"
    # Its announce is known from now on: a reload asks nobody.
    [entry] = hass.config_entries.async_entries(DOMAIN)
    assert entry.data["announce"] == announce
    mqtt_mock.async_publish.reset_mock()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert [c.args[0] for c in mqtt_mock.async_publish.call_args_list].count(
        "microhome/discover"
    ) == 0


async def test_a_discovered_node_is_asked_once_when_it_is_new(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
) -> None:
    """Set up for the first time, its diagnostics have nothing to restore: the nodes are asked
    to announce and report telemetry (the firmware answers `discover` with both). Once its
    entities exist, a reload (as a restart) asks nobody: they restore their last values."""
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    topics = [c.args[0] for c in mqtt_mock.async_publish.call_args_list]
    assert topics.count("microhome/discover") == 1
    mqtt_mock.async_publish.reset_mock()
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    topics = [c.args[0] for c in mqtt_mock.async_publish.call_args_list]
    assert "microhome/discover" not in topics


async def test_many_new_nodes_share_their_announce_requests(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes
) -> None:
    """Each `discover` makes every node announce: ten nodes set up in a row ask once at once
    and once after the burst, not ten times (adding a thousand would make a million)."""
    for index in range(10):
        entry = MockConfigEntry(
            domain=DOMAIN,
            unique_id=f"mh-new{index}",
            title=f"New {index}",
            data={"node_id": f"mh-new{index}", "platform": "rp2"},
            options=make_options(),
        )
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    def discovers() -> int:
        topics = [c.args[0] for c in mqtt_mock.async_publish.call_args_list]
        return topics.count("microhome/discover")

    assert discovers() == 1
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=DISCOVER_COOLDOWN + 1))
    await hass.async_block_till_done()
    assert discovers() == 2
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=3 * DISCOVER_COOLDOWN))
    await hass.async_block_till_done()
    assert discovers() == 2


async def test_a_failed_announce_request_does_not_stop_the_setup(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    with patch(
        "homeassistant.components.mqtt.async_publish",
        side_effect=HomeAssistantError("MQTT is not connected"),
    ):
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"node_id": NODE_ID, "platform": "rp2"}
        )
        await hass.async_block_till_done()
    [entry] = hass.config_entries.async_entries(DOMAIN)
    assert entry.state is ConfigEntryState.LOADED
