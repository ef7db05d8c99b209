"""Numbers: the settings outputs take as a number (catalogue), such as a PWM duty cycle."""

from __future__ import annotations

from typing import Any

from homeassistant.components.number import NumberMode, RestoreNumber
from homeassistant.const import Platform
from homeassistant.core import callback

from . import catalogue
from .entity import MicroHomePeripheralEntity, platform_setup
from .node import MicroHomeNode

PARALLEL_UPDATES = 1


class PeripheralNumber(MicroHomePeripheralEntity, RestoreNumber):
    """A number an output applies at once (its `set` field of the same name). The value
    follows the node's echo, never the command; the last one is restored after a restart."""

    _attr_mode = NumberMode.SLIDER
    _attr_native_step = 1

    def __init__(
        self, node: MicroHomeNode, peripheral: dict[str, Any], spec: catalogue.Entity
    ) -> None:
        """Set up the number of one value of one peripheral, its range its `set` field's."""
        super().__init__(node, peripheral, spec)
        field = next(f for f in self.kind.set_fields if f.key == spec.value)
        self._attr_native_min_value = float(field.low or 0)
        self._attr_native_max_value = float(field.high or 0)
        self._attr_native_unit_of_measurement = spec.unit

    async def async_added_to_hass(self) -> None:
        """Restore the last value until the node reports."""
        last = await self.async_get_last_number_data()
        self._attr_native_value = None if last is None else last.native_value
        await super().async_added_to_hass()

    @callback
    def _update_state(self, values: dict[str, Any]) -> None:
        self._attr_native_value = values.get(self.spec.value or "")

    async def async_set_native_value(self, value: float) -> None:
        """Ask the node to apply value."""
        await self.node.async_command(
            "set", id=self.peripheral_id, **{self.spec.value or "": value}
        )


async_setup_entry = platform_setup(Platform.NUMBER, PeripheralNumber)
