"""Binary sensors: PIR motion."""

from __future__ import annotations

from collections.abc import Iterator

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.const import STATE_OFF, STATE_ON, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .entity import MicroHomeEntity, MicroHomeSensorEntity, async_setup_dynamic_entities
from .node import MicroHomeConfigEntry, MicroHomeNode
from .protocol import MotionState

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicroHomeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a motion binary sensor per configured motion sensor."""

    def entities(node: MicroHomeNode) -> Iterator[MicroHomeEntity]:
        for sensor in node.sensors:
            if sensor["type"] == "motion":
                yield MotionSensor(node, sensor)

    async_setup_dynamic_entities(hass, entry, async_add_entities, Platform.BINARY_SENSOR, entities)


class MotionSensor(MicroHomeSensorEntity, BinarySensorEntity, RestoreEntity):
    """A PIR motion sensor; the last state is restored after a restart."""

    _attr_device_class = BinarySensorDeviceClass.MOTION

    async def async_added_to_hass(self) -> None:
        """Restore the last state until the node reports."""
        if (last := await self.async_get_last_state()) is not None and last.state in (
            STATE_ON,
            STATE_OFF,
        ):
            self._attr_is_on = last.state == STATE_ON
        await super().async_added_to_hass()

    @callback
    def _update_state(self) -> None:
        state = self.node.states.get(self.sensor_id)
        if isinstance(state, MotionState):
            self._attr_is_on = state.motion
