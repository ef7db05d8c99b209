"""The push-based base entity of MicroHome and the bookkeeping of dynamic entities."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN, signal_update
from .node import MicroHomeConfigEntry, MicroHomeNode


class MicroHomeEntity(Entity):
    """An entity of one node, updated by the node's MQTT messages."""

    _attr_should_poll = False
    _attr_has_entity_name = True
    # Dispatcher signals (see const.signal_update) that change this entity's state.
    _signals: tuple[str, ...] = ()

    def __init__(self, node: MicroHomeNode, key: str) -> None:
        """Set up the entity for node; key makes the unique id."""
        self.node = node
        self._attr_unique_id = f"{node.node_id}_{key}"
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, node.node_id)})

    @property
    def available(self) -> bool:
        """Whether the node is online and the broker reachable."""
        return self.node.available

    async def async_added_to_hass(self) -> None:
        """Follow the node's updates."""
        await super().async_added_to_hass()
        for what in ("availability", "config", *self._signals):
            self.async_on_remove(
                async_dispatcher_connect(
                    self.hass, signal_update(self.node.node_id, what), self._handle_update
                )
            )
        self._update_from_node()

    @callback
    def _update_from_node(self) -> None:
        """Take the node's current values; overridden by entities that have any."""

    @callback
    def _handle_update(self) -> None:
        self._update_from_node()
        self.async_write_ha_state()


class MicroHomeSensorEntity(MicroHomeEntity):
    """An entity of one configured sensor (a `sensors` item of the node's configuration)."""

    def __init__(self, node: MicroHomeNode, sensor: dict[str, Any], suffix: str = "") -> None:
        """Set up the entity for one configured sensor."""
        self.sensor_id: str = sensor["id"]
        super().__init__(node, self.sensor_id + suffix)
        self._signals = (f"state/{self.sensor_id}",)
        self._apply_name(sensor)

    def _apply_name(self, sensor: dict[str, Any]) -> None:
        """Name the entity after the sensor (as typed in the options flow)."""
        self._attr_name = sensor.get("name") or self.sensor_id

    @callback
    def _update_from_node(self) -> None:
        if (sensor := self.node.sensor(self.sensor_id)) is not None:
            self._apply_name(sensor)
        self._update_state()

    @callback
    def _update_state(self) -> None:
        """Take the sensor's last state from the node."""


type EntityFactory = Callable[[MicroHomeNode], Iterable[MicroHomeEntity]]


@callback
def async_setup_dynamic_entities(
    hass: HomeAssistant,
    entry: MicroHomeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    domain: str,
    factory: EntityFactory,
) -> None:
    """Add the entities factory makes now, and add or delete them as the configuration changes."""
    node = entry.runtime_data
    added: set[str] = set()
    registry = er.async_get(hass)

    @callback
    def sync() -> None:
        wanted = {str(entity.unique_id): entity for entity in factory(node)}
        for entity_entry in er.async_entries_for_config_entry(registry, entry.entry_id):
            if entity_entry.domain == domain and entity_entry.unique_id not in wanted:
                registry.async_remove(entity_entry.entity_id)
        added.intersection_update(wanted)
        new = [entity for unique_id, entity in wanted.items() if unique_id not in added]
        added.update(entity.unique_id for entity in new if entity.unique_id)
        if new:
            async_add_entities(new)

    sync()
    entry.async_on_unload(
        async_dispatcher_connect(hass, signal_update(node.node_id, "config"), sync)
    )
