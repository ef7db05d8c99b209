"""Setup, keys, repairs, unload/reload, removal, services and diagnostics."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome import keys
from custom_components.microhome.client import NODE_TOPICS, Change
from custom_components.microhome.const import DOMAIN
from custom_components.microhome.diagnostics import async_get_config_entry_diagnostics

from .conftest import NODE_ID, SENSORS, Fire, entity_id, make_options, published


async def test_fleet_key_created_once_and_stored(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    key = await keys.async_get_fleet_key(hass)
    assert len(key) == 32
    assert await keys.async_get_fleet_key(hass) == key
    assert hass_storage[keys.STORAGE_KEY]["data"] == {"fleet_key": key.hex()}


async def test_fleet_key_loaded_from_storage(hass: HomeAssistant, fleet_key: bytes) -> None:
    assert await keys.async_get_fleet_key(hass) == fleet_key


async def test_broken_stored_key_replaced(
    hass: HomeAssistant, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    hass_storage[keys.STORAGE_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": keys.STORAGE_KEY,
        "data": {"fleet_key": "zz"},
    }
    key = await keys.async_get_fleet_key(hass)
    assert len(key) == 32
    assert hass_storage[keys.STORAGE_KEY]["data"] == {"fleet_key": key.hex()}
    assert "every node must be flashed again" in caplog.text


async def test_key_mismatch_repair(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, announce: dict[str, Any]
) -> None:
    issues = ir.async_get(hass)
    issue_id = f"key_mismatch_{NODE_ID}"
    assert issues.async_get_issue(DOMAIN, issue_id) is None  # 641b0e32 is ours
    fire("announce", announce | {"key_id": "deadbeef"})
    await hass.async_block_till_done()
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.ERROR
    assert issue.translation_placeholders == {
        "name": "Kitchen",
        "node_id": NODE_ID,
        "node_key_id": "deadbeef",
        "key_id": "641b0e32",
    }
    fire("announce", announce)
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, issue_id) is None


async def test_safe_mode_repair_shows_the_reason_until_the_node_leaves_it(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, announce: dict[str, Any]
) -> None:
    issues = ir.async_get(hass)
    issue_id = f"safe_mode_{NODE_ID}"
    reason = "3 boots in a row crashed within 60 s; last: ValueError: bad pin <b>\n"
    fire("announce", announce | {"safe_mode": reason})
    await hass.async_block_till_done()
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "safe_mode"
    # The node's text reaches the repair escaped: its newline cannot break the text.
    shown = reason.replace("\n", "\\n")
    assert issue.translation_placeholders == {"name": "Kitchen", "reason": shown}
    stored = loaded_entry.runtime_data.entry.data["announce"]
    assert stored["safe_mode"] == shown
    fire("announce", announce)
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, issue_id) is None


async def test_setup_waits_for_mqtt(
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
    config_entry: MockConfigEntry,
) -> None:
    config_entry.add_to_hass(hass)
    with patch("homeassistant.components.mqtt.async_wait_for_mqtt_client", return_value=False):
        await hass.config_entries.async_setup(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    await hass.config_entries.async_unload(config_entry.entry_id)


async def test_unload_releases_everything(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire
) -> None:
    node = loaded_entry.runtime_data
    released: list[str] = []
    real_subscribe = mqtt.async_subscribe

    async def tracking_subscribe(*args: Any, **kwargs: Any) -> Any:
        unsubscribe = await real_subscribe(*args, **kwargs)

        def release() -> None:
            released.append(args[1])
            unsubscribe()

        return release

    with patch.object(mqtt, "async_subscribe", tracking_subscribe):
        assert await hass.config_entries.async_reload(loaded_entry.entry_id)
        await hass.async_block_till_done()
        reloaded = loaded_entry.runtime_data
        assert reloaded is not node
        fire("status", "online")
        fire("state/pir", {"motion": True})
        await hass.async_block_till_done()
        assert hass.states.get(entity_id(hass, "binary_sensor", "pir")).state == "on"
        assert await hass.config_entries.async_unload(loaded_entry.entry_id)
        await hass.async_block_till_done()
    # The last node gone, the subscriptions all nodes share are released.
    assert sorted(released) == sorted(f"microhome/+/{suffix}" for suffix in NODE_TOPICS)
    assert {"status", "announce", "state/+", "config/state"} <= set(NODE_TOPICS)
    # Nothing listens any more: messages and signals change nothing.
    fire("status", "offline")
    await hass.async_block_till_done()
    assert reloaded.online is True
    assert node.online is True
    node.notify(Change.CONFIG)
    await hass.async_block_till_done()
    assert all(
        s.state == "unavailable" for s in hass.states.async_all() if "kitchen" in s.entity_id
    )


async def test_nodes_keep_their_messages_when_mqtt_is_reloaded(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire
) -> None:
    """The MQTT integration reloaded (a changed broker setting) drops its subscriptions: the
    nodes' shared ones are made again on the new client, and nothing kept from before is
    replayed from the old one."""
    node = loaded_entry.runtime_data
    [mqtt_entry] = hass.config_entries.async_entries(mqtt.DOMAIN)
    assert await hass.config_entries.async_reload(mqtt_entry.entry_id)
    await hass.async_block_till_done()
    fire("status", "offline")
    fire("state/pir", {"motion": True})
    await hass.async_block_till_done()
    assert node.online is False
    assert node.states["pir"].values == {"motion": True}


def added_node(hass: HomeAssistant, node_id: str, title: str) -> MockConfigEntry:
    """A second node's entry (with the sensors of make_options) added, not yet set up."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=node_id,
        title=title,
        data={"node_id": node_id, "platform": "rp2"},
        options=make_options(),
    )
    entry.add_to_hass(hass)
    return entry


async def test_a_node_set_up_later_gets_its_retained_messages(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """All nodes share one subscription per kind of topic: a node set up after its retained
    messages came gets the last of each, and only its own; its live messages update them."""
    later_id = "mh-later"
    later_topic = f"microhome/{later_id}"
    async_fire_mqtt_message(hass, f"{later_topic}/status", "online", retain=True)
    async_fire_mqtt_message(hass, f"{later_topic}/state/pir", '{"motion": true}', retain=True)
    async_fire_mqtt_message(hass, f"{later_topic}/state/climate", "", retain=True)
    async_fire_mqtt_message(hass, f"{later_topic}/state/climate/extra", '{"x": 1}', retain=True)
    await hass.async_block_till_done()
    entry = added_node(hass, later_id, "Later")
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    later = entry.runtime_data
    assert later.online
    assert {key: state.values for key, state in later.states.items()} == {"pir": {"motion": True}}
    motion = er.async_get(hass).async_get_entity_id("binary_sensor", DOMAIN, f"{later_id}_pir")
    assert motion is not None
    assert hass.states.get(motion).state == "on"
    first = loaded_entry.runtime_data
    assert "pir" not in first.states

    # A live message (no retain flag) replaces the kept one: a reload sees it.
    async_fire_mqtt_message(hass, f"{later_topic}/state/pir", '{"motion": false}')
    async_fire_mqtt_message(hass, f"{later_topic}/status", "offline")
    await hass.async_block_till_done()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    reloaded = entry.runtime_data
    assert reloaded is not later
    assert not reloaded.online
    assert reloaded.states["pir"].values == {"motion": False}
    assert first.online
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_pending_command_cancelled_on_unload(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    node = loaded_entry.runtime_data
    task = hass.async_create_task(node.async_command("reboot"))
    await asyncio.sleep(0)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_remove_entry_clears_retained_config(
    *,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    fire: Fire,
    announce: dict[str, Any],
) -> None:
    fire("announce", announce | {"key_id": "deadbeef"})
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    assert er.async_entries_for_config_entry(registry, loaded_entry.entry_id)
    await hass.config_entries.async_remove(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert published(mqtt_mock, "config/set") == [("", 1, True)]
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"key_mismatch_{NODE_ID}") is None
    assert er.async_entries_for_config_entry(registry, loaded_entry.entry_id) == []


async def test_remove_entry_without_mqtt(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    with patch(
        "homeassistant.components.mqtt.async_publish",
        side_effect=mqtt.HomeAssistantError("no broker")
        if hasattr(mqtt, "HomeAssistantError")
        else __import__("homeassistant.exceptions").exceptions.HomeAssistantError("no broker"),
    ):
        await hass.config_entries.async_remove(loaded_entry.entry_id)
    assert "Could not clear the configuration of node mh-a1b2c3" in caplog.text


async def test_services(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    await hass.services.async_call(DOMAIN, "discover", {}, blocking=True)
    assert [c.args[:2] for c in mqtt_mock.async_publish.call_args_list] == [
        ("microhome/discover", "discover")
    ]
    with pytest.raises(ServiceValidationError, match="nope is not a MicroHome node"):
        await hass.services.async_call(
            DOMAIN, "push_config", {"config_entry_id": "nope"}, blocking=True
        )
    await hass.config_entries.async_unload(loaded_entry.entry_id)
    with pytest.raises(ServiceValidationError, match="Kitchen is not loaded"):
        await hass.services.async_call(
            DOMAIN, "push_config", {"config_entry_id": loaded_entry.entry_id}, blocking=True
        )


async def test_diagnostics_redacted(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire, vectors: dict[str, Any]
) -> None:
    fire("telemetry", vectors["node_payloads"]["telemetry"])
    fire("state/climate", {"temperature": 20.0, "humidity": 30.0})
    await hass.async_block_till_done()
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_entry)
    text = str(diagnostics)
    for secret in (
        "641b0e32",
        "28:cd:c1:a1:b2:c3",
        "192.168.1.50",
        vectors["keys"]["node_key"],
        vectors["keys"]["fleet_key"],
    ):
        assert secret not in text
    node = diagnostics["node"]
    assert node["online"] is True
    assert node["announce"]["fw"] == "1.2.3"
    assert node["telemetry"]["uptime"] == 3600
    assert node["states"]["climate"]["temperature"] == 20.0
    assert diagnostics["entry"]["options"]["sensors"][0]["id"] == "climate"


async def test_config_entry_only(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    assert hass.services.has_service(DOMAIN, "push_config")
    assert hass.services.has_service(DOMAIN, "discover")


async def test_fleet_key_created_once_when_asked_twice_at_once(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    async def slow_load(self: Any) -> None:
        await asyncio.sleep(0.01)

    with patch("homeassistant.helpers.storage.Store.async_load", slow_load):
        first, second = await asyncio.gather(
            keys.async_get_fleet_key(hass), keys.async_get_fleet_key(hass)
        )
    assert first == second
    assert hass_storage[keys.STORAGE_KEY]["data"] == {"fleet_key": first.hex()}


async def test_corrupt_stored_announce_ignored(
    *,
    hass: HomeAssistant,
    mqtt_mock: MqttMockHAClient,
    fleet_key: bytes,
    config_entry: MockConfigEntry,
    announce: dict[str, Any],
    fire: Fire,
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=NODE_ID,
        title="Kitchen",
        data={"node_id": NODE_ID, "platform": "esp32", "announce": {"id": 5}},
        options=dict(config_entry.options),
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    node = entry.runtime_data
    assert node.announce is None
    assert node.firmware is None
    assert node.platform == "esp32"
    fire("announce", announce)
    await hass.async_block_till_done()
    assert node.platform == "rp2"
    assert entry.data["announce"] == announce


async def test_online_and_offline_logged(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    fire: Fire,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fire("status", "offline")
    fire("status", "offline")
    fire("status", "online")
    await hass.async_block_till_done()
    assert caplog.text.count("Node mh-a1b2c3 (Kitchen) is offline") == 1
    assert caplog.text.count("Node mh-a1b2c3 (Kitchen) is online") == 1


async def test_other_nodes_states_show_while_a_node_is_being_set_up(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire
) -> None:
    """A node's platforms are set up one at a time with the loop free between them: a
    running node's state shows while a new node is half set up, not after all of it."""
    new_id = "mh-new"
    entry = added_node(hass, new_id, "New")
    registry = er.async_get(hass)
    setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
    while registry.async_get_entity_id("light", DOMAIN, f"{new_id}_lamp") is None:
        assert not setup.done()
        await asyncio.sleep(0)
    fire("state/climate", {"temperature": 31.5, "humidity": 40})
    assert hass.states.get(entity_id(hass, "sensor", "climate_temperature")).state == "31.5"
    assert registry.async_get_entity_id("update", DOMAIN, f"{new_id}_firmware") is None
    assert not setup.done()
    assert await setup
    await hass.async_block_till_done()
    assert registry.async_get_entity_id("update", DOMAIN, f"{new_id}_firmware") is not None
    assert entry.state is ConfigEntryState.LOADED


async def test_entities_of_a_new_platform_come_and_stale_ones_go_at_setup(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire
) -> None:
    """A node's first switch comes with its first relay; a switch left from a configuration
    changed while the node was not loaded is deleted when the node is set up again."""
    registry = er.async_get(hass)
    relay = {"id": "pump", "type": "relay", "name": "Pump", "pin": 17}
    assert registry.async_get_entity_id("switch", DOMAIN, f"{NODE_ID}_pump") is None

    hass.config_entries.async_update_entry(
        loaded_entry, options=make_options([*SENSORS, relay], version=8)
    )
    await hass.async_block_till_done()
    pump = entity_id(hass, "switch", "pump")
    fire("state/pump", {"on": True})
    await hass.async_block_till_done()
    assert hass.states.get(pump).state == "on"

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(pump).state == "unavailable"
    # Changed while the node was not loaded: the relay is gone, its switch is still registered.
    hass.config_entries.async_update_entry(loaded_entry, options=make_options(version=9))
    assert registry.async_get_entity_id("switch", DOMAIN, f"{NODE_ID}_pump") == pump
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert registry.async_get_entity_id("switch", DOMAIN, f"{NODE_ID}_pump") is None
    assert hass.states.get(entity_id(hass, "light", "lamp")) is not None
