"""MicroHome: home-made MicroPython sensor nodes over MQTT."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from homeassistant.components import mqtt
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady, HomeAssistantError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.typing import ConfigType
from homeassistant.util.hass_dict import HassKey

from . import protocol
from .const import CONF_NODE_ID, DOMAIN
from .fleet import async_get_profiles
from .issues import node_issue_ids
from .keys import async_get_fleet_key
from .logs import async_setup_logs
from .node import MicroHomeConfigEntry, MicroHomeNode
from .panel import async_register_panel
from .services import async_setup_services
from .settings import async_get_manager
from .websocket import async_register_websocket_commands

_LOGGER = logging.getLogger(__name__)

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)
# New nodes set up within this many seconds share one `discover` (every node answers each).
DISCOVER_COOLDOWN = 5.0
_DISCOVER: HassKey[Debouncer[Coroutine[Any, Any, None]]] = HassKey(f"{DOMAIN}_discover")
PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.EVENT,
    Platform.LIGHT,
    Platform.NUMBER,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.UPDATE,
]

__all__ = ["DOMAIN", "MicroHomeConfigEntry", "MicroHomeNode"]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Set up what all nodes share: services, settings, logs, websocket API and panel."""
    async_setup_services(hass)
    settings = await async_get_manager(hass)
    await async_setup_logs(hass, settings)
    await async_get_profiles(hass)
    async_register_websocket_commands(hass)
    await async_register_panel(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: MicroHomeConfigEntry) -> bool:
    """Set up one node: subscribe to its topics, create its device and entities."""
    if not await mqtt.async_wait_for_mqtt_client(hass):
        raise ConfigEntryNotReady(translation_domain=DOMAIN, translation_key="mqtt_not_ready")
    node = MicroHomeNode(hass, entry, await async_get_fleet_key(hass))
    entry.runtime_data = node
    node.async_update_device()
    # A node set up for the first time has no diagnostics to restore yet.
    new = (
        er.async_get(hass).async_get_entity_id(Platform.SENSOR, DOMAIN, f"{node.node_id}_rssi")
        is None
    )
    await node.async_start()
    if new:
        # Ask the nodes to announce and report telemetry now rather than at their next
        # telemetry interval, so a new node's device, address and signal fill in at once.
        discover = _discover_debouncer(hass)
        entry.async_on_unload(discover.async_cancel)
        await discover.async_call()
    # One platform at a time, yielding between them: setting up a node's entities is a
    # stretch of tens of milliseconds that other nodes' states would wait behind.
    for platform in PLATFORMS:
        await hass.config_entries.async_forward_entry_setups(entry, (platform,))
        await asyncio.sleep(0)
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    return True


def _discover_debouncer(hass: HomeAssistant) -> Debouncer[Coroutine[Any, Any, None]]:
    """`discover` at once, and once more at the end of a burst of new nodes: not once for
    each of them (each `discover` makes every node announce: adding many would be quadratic)."""
    if (debouncer := hass.data.get(_DISCOVER)) is None:

        async def publish() -> None:
            try:
                await mqtt.async_publish(hass, protocol.DISCOVER_TOPIC, "discover")
            except HomeAssistantError as err:
                _LOGGER.debug("Could not ask the nodes to announce themselves: %s", err)

        debouncer = hass.data[_DISCOVER] = Debouncer(
            hass, _LOGGER, cooldown=DISCOVER_COOLDOWN, immediate=True, function=publish
        )
    return debouncer


async def _async_entry_updated(hass: HomeAssistant, entry: MicroHomeConfigEntry) -> None:
    await entry.runtime_data.async_config_updated()


async def async_unload_entry(hass: HomeAssistant, entry: MicroHomeConfigEntry) -> bool:
    """Unload a node; its subscriptions are released through async_on_unload."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: MicroHomeConfigEntry) -> None:
    """A deleted node: empty its retained configuration and drop its repair issues."""
    node_id = entry.data[CONF_NODE_ID]
    for issue_id in node_issue_ids(node_id):
        ir.async_delete_issue(hass, DOMAIN, issue_id)
    try:
        await mqtt.async_publish(
            hass, protocol.topic(node_id, "config/set"), "", qos=1, retain=True
        )
    except HomeAssistantError as err:
        _LOGGER.warning("Could not clear the configuration of node %s: %s", node_id, err)
