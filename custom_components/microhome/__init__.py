"""MicroHome: home-made MicroPython sensor nodes over MQTT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntryState, OperationNotAllowed
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
# In the order they are set up.
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

# Set up for every node: its buttons, diagnostic sensors and firmware update.
NODE_PLATFORMS: frozenset[str] = frozenset({Platform.BUTTON, Platform.SENSOR, Platform.UPDATE})

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
    await _async_setup_platforms(hass, entry)
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    return True


def _platforms_wanted(hass: HomeAssistant, entry: MicroHomeConfigEntry) -> set[str]:
    """The platforms the node's entities are on: its own, its peripherals', and those that
    still have entities of the entry (set up to delete them)."""
    node = entry.runtime_data
    registry = er.async_get(hass)
    return {
        *NODE_PLATFORMS,
        *(spec.platform for _, spec in node.shown_entities()),
        *(e.domain for e in er.async_entries_for_config_entry(registry, entry.entry_id)),
    }.intersection(PLATFORMS)


async def _async_setup_platforms(hass: HomeAssistant, entry: MicroHomeConfigEntry) -> None:
    """Set up the platforms the node has entities on and are not set up yet.

    Only those: a platform costs memory and time for each node. One at a time, yielding
    between them: setting up a node's entities is a stretch of tens of milliseconds that other
    nodes' states would wait behind.
    """
    node = entry.runtime_data
    async with node.platform_lock:
        while missing := _platforms_wanted(hass, entry) - node.platforms:
            platform = next(p for p in PLATFORMS if p in missing)
            await hass.config_entries.async_forward_entry_setups(entry, (platform,))
            node.platforms.add(platform)
            await asyncio.sleep(0)


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
    """The existing entities follow the new configuration; a platform it newly needs is set
    up (unless the entry is being unloaded meanwhile)."""
    await entry.runtime_data.async_config_updated()
    if entry.state is ConfigEntryState.LOADED:
        with contextlib.suppress(OperationNotAllowed):
            await _async_setup_platforms(hass, entry)


async def async_unload_entry(hass: HomeAssistant, entry: MicroHomeConfigEntry) -> bool:
    """Unload a node; its subscriptions are released through async_on_unload."""
    node = entry.runtime_data
    async with node.platform_lock:
        return await hass.config_entries.async_unload_platforms(entry, node.platforms)


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
