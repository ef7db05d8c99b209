"""The node's configuration: pushed signed and retained, answered, rejected, pushed again."""

from __future__ import annotations

import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome import node as node_module
from custom_components.microhome.const import DOMAIN
from custom_components.microhome.diagnostics import async_get_config_entry_diagnostics

from .conftest import NODE_ID, Fire, make_options, published


async def bump(hass: HomeAssistant, entry: MockConfigEntry, version: int = 8) -> None:
    options = make_options(version=version)
    options["telemetry_interval"] = 120
    hass.config_entries.async_update_entry(entry, options=options)
    await hass.async_block_till_done()


async def test_push_matches_vector(
    *,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    vectors: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """The vectors' configuration, pushed with their n, is their signed payload exactly."""
    freezer.move_to("2025-01-01T00:00:00+00:00")
    hass.data.setdefault(node_module._LAST_N, {})[NODE_ID] = 1763800000000 - 1
    hass.config_entries.async_update_entry(loaded_entry, options=make_options(version=7) | {})
    await loaded_entry.runtime_data.async_push_config()
    assert published(mqtt_mock, "config/set") == [(vectors["signed"][0]["payload"], 1, True)]


async def test_pending_then_acknowledged(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient, fire: Fire
) -> None:
    node = loaded_entry.runtime_data
    await bump(hass, loaded_entry)
    assert len(published(mqtt_mock, "config/set")) == 1
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_entry)
    assert diagnostics["node"]["config_pending"] is True
    assert diagnostics["node"]["config_version"] == 8
    fire("config/state", {"version": 8, "ok": True, "errors": []})
    await hass.async_block_till_done()
    assert node.config_pending is False
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_entry)
    assert diagnostics["node"]["config_pending"] is False
    assert diagnostics["node"]["config_state"] == {"version": 8, "ok": True, "errors": ()}


async def test_rejection_raises_repair_issue(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, fire: Fire
) -> None:
    issues = ir.async_get(hass)
    issue_id = f"config_rejected_{NODE_ID}"
    await bump(hass, loaded_entry)
    # An answer to an older version says nothing about the current one.
    fire("config/state", {"version": 7, "ok": False, "errors": ["old"]})
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, issue_id) is None
    fire("config/state", {"version": 8, "ok": False, "errors": ["sensors[1].pin: 15 used twice"]})
    await hass.async_block_till_done()
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "config_rejected"
    assert issue.translation_placeholders == {
        "name": "Kitchen",
        "version": "8",
        "errors": "sensors[1].pin: 15 used twice",
    }
    assert loaded_entry.runtime_data.config_rejected
    # The user fixes the configuration; the node accepts it and the issue goes.
    await bump(hass, loaded_entry, version=9)
    fire("config/state", {"version": 9, "ok": True, "errors": []})
    await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, issue_id) is None


async def test_node_with_older_config_gets_it_again(
    *,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    fire: Fire,
    announce: dict[str, Any],
) -> None:
    await bump(hass, loaded_entry)
    first = published(mqtt_mock, "config/set")
    assert len(first) == 1
    # The node comes back online still running configuration 7.
    fire("status", "online")
    fire("announce", announce | {"cfg": 7, "ip": "192.168.1.51"})
    await hass.async_block_till_done()
    pushes = published(mqtt_mock, "config/set")
    assert len(pushes) == 2
    body = json.loads(pushes[1][0].split(" ", 1)[1])
    assert body["version"] == 8
    assert body["n"] > json.loads(first[0][0].split(" ", 1)[1])["n"]
    # Up to date: nothing is sent.
    fire("announce", announce | {"cfg": 8})
    await hass.async_block_till_done()
    assert len(published(mqtt_mock, "config/set")) == 2


async def test_rejected_config_not_pushed_again(
    *,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    mqtt_mock: MqttMockHAClient,
    fire: Fire,
    announce: dict[str, Any],
) -> None:
    await bump(hass, loaded_entry)
    fire("config/state", {"version": 8, "ok": False, "errors": ["no"]})
    fire("announce", announce | {"cfg": 7, "ip": "10.0.0.1"})
    await hass.async_block_till_done()
    assert len(published(mqtt_mock, "config/set")) == 1


async def test_push_config_service(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    await hass.services.async_call(
        DOMAIN, "push_config", {"config_entry_id": loaded_entry.entry_id}, blocking=True
    )
    body = json.loads(published(mqtt_mock, "config/set")[-1][0].split(" ", 1)[1])
    assert body["version"] == 7


async def test_new_node_without_config_pushes_nothing(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, mqtt_mock: MqttMockHAClient
) -> None:
    hass.config_entries.async_update_entry(loaded_entry, options=make_options([], version=0))
    await hass.async_block_till_done()
    await loaded_entry.runtime_data.async_push_config()
    assert published(mqtt_mock, "config/set") == []
    assert loaded_entry.runtime_data.config_pending is False
