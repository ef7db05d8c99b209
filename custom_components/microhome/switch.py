"""Switches: the peripherals the catalogue shows as switches (plain on/off outputs)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import Platform

from .entity import RestoreOnOff, platform_setup

PARALLEL_UPDATES = 1


class PeripheralSwitch(RestoreOnOff, SwitchEntity):
    """An on/off output. The state follows the node's echo, never the command."""

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Ask the node to switch the output on."""
        await self.node.async_command("set", id=self.peripheral_id, on=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Ask the node to switch the output off."""
        await self.node.async_command("set", id=self.peripheral_id, on=False)


async_setup_entry = platform_setup(Platform.SWITCH, PeripheralSwitch)
