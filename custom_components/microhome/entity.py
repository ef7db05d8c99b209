"""The push-based base entity of MicroHome and the bookkeeping of dynamic entities."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from . import catalogue
from .client import Change
from .node import MicroHomeConfigEntry, MicroHomeNode


class MicroHomeEntity(Entity):
    """An entity of one node, updated by the node's MQTT messages."""

    _attr_should_poll = False
    _attr_has_entity_name = True
    # The node's changes, beyond availability and configuration, that change this entity.
    _changes: tuple[Change, ...] = ()

    def __init__(self, node: MicroHomeNode, key: str) -> None:
        """Set up the entity for node; key makes the unique id."""
        self.node = node
        self._attr_unique_id = f"{node.node_id}_{key}"
        self._attr_device_info = node.device_info

    @property
    def available(self) -> bool:
        """Whether the node is online and the broker reachable."""
        return self.node.available

    async def async_added_to_hass(self) -> None:
        """Follow the node's updates."""
        await super().async_added_to_hass()
        self.async_on_remove(self.node.listen_to(self._followed(), self._handle_update))
        self._update_from_node()

    def _followed(self) -> list[tuple[Change, str | None]]:
        """The node's changes (and keys) that change this entity."""
        return [(change, None) for change in (Change.AVAILABILITY, Change.CONFIG, *self._changes)]

    @callback
    def _update_from_node(self) -> None:
        """Take the node's current values; overridden by entities that have any."""

    @callback
    def _handle_update(self) -> None:
        self._update_from_node()
        self.async_write_ha_state()


class MicroHomePeripheralEntity(MicroHomeEntity):
    """An entity of one configured peripheral (a `sensors` item of the node's configuration).

    What it shows comes from the catalogue: the peripheral's type and the entity's spec.
    """

    def __init__(
        self, node: MicroHomeNode, peripheral: dict[str, Any], spec: catalogue.Entity
    ) -> None:
        """Set up the entity spec describes for one configured peripheral."""
        self.peripheral_id: str = peripheral["id"]
        self.kind = catalogue.TYPES[peripheral["type"]]
        self.spec = spec
        super().__init__(node, self.peripheral_id + (f"_{spec.key}" if spec.key else ""))
        if spec.key is not None:
            self._attr_translation_key = spec.key
        self._apply_name(peripheral)
        self._apply_choices(peripheral)

    def chosen(self, peripheral: dict[str, Any], param: str | None, default: str | None) -> Any:
        """The value of the parameter param of peripheral (a user's choice), else default;
        "none" and "" stand for None."""
        if param is None:
            return default
        value = peripheral.get(param, self.kind.param(param).default)
        return None if value in ("none", "") else value

    def _apply_choices(self, peripheral: dict[str, Any]) -> None:
        """Take what the user chose for the entity (a device class, a unit); at setup and
        whenever the configuration changes."""

    def _apply_name(self, peripheral: dict[str, Any]) -> None:
        """Name the entity after the peripheral (as typed in the options flow)."""
        name = peripheral.get("name") or self.peripheral_id
        if self.spec.key is None:
            self._attr_name = name
        else:
            self._attr_translation_placeholders = {"sensor": name}

    def _followed(self) -> list[tuple[Change, str | None]]:
        """Also the peripheral's state."""
        return [*super()._followed(), (Change.STATE, self.peripheral_id)]

    @property
    def available(self) -> bool:
        """Whether the node is online and the peripheral's last reading did not fail."""
        state = self.node.states.get(self.peripheral_id)
        return super().available and (state is None or state.error is None)

    @property
    def values(self) -> dict[str, Any] | None:
        """The peripheral's last reported values (none after an error); None before any."""
        state = self.node.states.get(self.peripheral_id)
        return None if state is None else state.values

    @callback
    def _update_from_node(self) -> None:
        if (peripheral := self.node.peripheral(self.peripheral_id)) is not None:
            self._apply_name(peripheral)
            self._apply_choices(peripheral)
        if (values := self.values) is not None:
            self._update_state(values)

    @callback
    def _update_state(self, values: dict[str, Any]) -> None:
        """Take the peripheral's last reported values."""


type EntityFactory = Callable[[MicroHomeNode], Iterable[MicroHomeEntity]]


@dataclass(slots=True)
class DynamicEntities:
    """One platform's entities of one node: added and deleted as the configuration changes.

    An object rather than a closure: a thousand nodes have thousands of them.
    """

    registry: er.EntityRegistry
    entry: MicroHomeConfigEntry
    add: AddConfigEntryEntitiesCallback
    domain: str
    factory: EntityFactory
    added: set[str] = field(default_factory=set)

    @callback
    def sync(self) -> None:
        """Add the entities the factory makes that are not added; delete those it no longer
        makes."""
        wanted = {str(entity.unique_id): entity for entity in self.factory(self.entry.runtime_data)}
        registry = self.registry
        for entity_entry in er.async_entries_for_config_entry(registry, self.entry.entry_id):
            if entity_entry.domain == self.domain and entity_entry.unique_id not in wanted:
                registry.async_remove(entity_entry.entity_id)
        self.added.intersection_update(wanted)
        new = [entity for unique_id, entity in wanted.items() if unique_id not in self.added]
        self.added.update(entity.unique_id for entity in new if entity.unique_id)
        if new:
            self.add(new)


@callback
def async_setup_dynamic_entities(
    hass: HomeAssistant,
    entry: MicroHomeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    domain: str,
    factory: EntityFactory,
) -> None:
    """Add the entities factory makes now, and add or delete them as the configuration changes."""
    dynamic = DynamicEntities(er.async_get(hass), entry, async_add_entities, domain, factory)
    dynamic.sync()
    entry.runtime_data.async_listen(Change.CONFIG, dynamic.sync)


type PeripheralEntityClass = Callable[
    [MicroHomeNode, dict[str, Any], catalogue.Entity], MicroHomePeripheralEntity
]
type SetupEntry = Callable[
    [HomeAssistant, MicroHomeConfigEntry, AddConfigEntryEntitiesCallback],
    Coroutine[Any, Any, None],
]


def platform_setup(
    platform: str,
    entity_class: PeripheralEntityClass | None = None,
    node_entities: EntityFactory | None = None,
) -> SetupEntry:
    """A platform's async_setup_entry: the node's own entities (node_entities) and an
    entity_class per catalogue entity of platform of each configured peripheral, added and
    deleted as the configuration changes."""

    def entities(node: MicroHomeNode) -> Iterator[MicroHomeEntity]:
        if node_entities is not None:
            yield from node_entities(node)
        if entity_class is None:
            return
        for peripheral, spec in node.shown_entities():
            if spec.platform == platform:
                yield entity_class(node, peripheral, spec)

    async def async_setup_entry(
        hass: HomeAssistant,
        entry: MicroHomeConfigEntry,
        async_add_entities: AddConfigEntryEntitiesCallback,
    ) -> None:
        async_setup_dynamic_entities(hass, entry, async_add_entities, platform, entities)

    return async_setup_entry


class RestoreOnOff(MicroHomePeripheralEntity, RestoreEntity):
    """A peripheral entity whose on/off state is restored after a restart until the node
    reports; `_update_state` sets it from the value `on_value` names."""

    _attr_is_on: bool | None  # the entity class (switch, binary sensor) holds it

    async def async_added_to_hass(self) -> None:
        """Restore the last state until the node reports."""
        if (last := await self.async_get_last_state()) is not None and last.state in (
            STATE_ON,
            STATE_OFF,
        ):
            self._attr_is_on = last.state == STATE_ON
        await super().async_added_to_hass()

    @callback
    def _update_state(self, values: dict[str, Any]) -> None:
        self._attr_is_on = bool(values.get(self.spec.value or "on"))
