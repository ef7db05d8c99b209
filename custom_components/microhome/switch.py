"""Switches: the peripherals the catalogue shows as switches (plain on/off outputs)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import STATE_OFF, STATE_ON, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .entity import MicroHomePeripheralEntity, async_setup_peripheral_entities
from .node import MicroHomeConfigEntry

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicroHomeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a switch per configured peripheral the catalogue shows as a switch."""
    async_setup_peripheral_entities(
        hass, entry, async_add_entities, Platform.SWITCH, PeripheralSwitch
    )


class PeripheralSwitch(MicroHomePeripheralEntity, SwitchEntity, RestoreEntity):
    """An on/off output. The state follows the node's echo, never the command."""

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
        self._attr_is_on = bool(values.get("on"))

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Ask the node to switch the output on."""
        await self.node.async_command("set", id=self.peripheral_id, on=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Ask the node to switch the output off."""
        await self.node.async_command("set", id=self.peripheral_id, on=False)
