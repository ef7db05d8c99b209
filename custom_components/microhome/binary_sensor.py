"""Binary sensors: the on/off values peripherals report (catalogue), such as PIR motion."""

from __future__ import annotations

from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.const import STATE_OFF, STATE_ON, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from . import catalogue
from .entity import MicroHomePeripheralEntity, async_setup_peripheral_entities
from .node import MicroHomeConfigEntry, MicroHomeNode

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicroHomeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a binary sensor per catalogue binary_sensor of each configured peripheral."""
    async_setup_peripheral_entities(
        hass, entry, async_add_entities, Platform.BINARY_SENSOR, PeripheralBinarySensor
    )


class PeripheralBinarySensor(MicroHomePeripheralEntity, BinarySensorEntity, RestoreEntity):
    """An on/off value of a peripheral; the last state is restored after a restart."""

    def __init__(
        self, node: MicroHomeNode, peripheral: dict[str, Any], spec: catalogue.Entity
    ) -> None:
        """Set up the binary sensor of one value of one peripheral."""
        if spec.device_class:
            self._attr_device_class = BinarySensorDeviceClass(spec.device_class)
        super().__init__(node, peripheral, spec)

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
        self._attr_is_on = bool(values.get(self.spec.value or ""))
