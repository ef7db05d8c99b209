"""Lights: the peripherals the catalogue shows as lights (dimmable LED, status LED)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.light import (
    ATTR_BRIGHTNESS,
    ATTR_TRANSITION,
    ColorMode,
    LightEntity,
    LightEntityFeature,
)
from homeassistant.const import STATE_OFF, STATE_ON, Platform
from homeassistant.core import callback
from homeassistant.helpers.restore_state import RestoreEntity

from . import catalogue
from .entity import MicroHomePeripheralEntity, platform_setup
from .node import MicroHomeNode

PARALLEL_UPDATES = 1


class PeripheralLight(MicroHomePeripheralEntity, LightEntity, RestoreEntity):
    """A light: dimmable when its state has a brightness, with transitions when its `set`
    takes one. The state follows the node's echo, never the command."""

    def __init__(
        self, node: MicroHomeNode, peripheral: dict[str, Any], spec: catalogue.Entity
    ) -> None:
        """Set up the light of one configured peripheral."""
        super().__init__(node, peripheral, spec)
        fields = {field.key: field for field in self.kind.set_fields}
        self._dimmable = any(field.key == "brightness" for field in self.kind.state)
        mode = ColorMode.BRIGHTNESS if self._dimmable else ColorMode.ONOFF
        self._attr_color_mode = mode
        self._attr_supported_color_modes = {mode}
        self._transition = fields.get("transition")
        if self._transition is not None:
            self._attr_supported_features = LightEntityFeature.TRANSITION

    async def async_added_to_hass(self) -> None:
        """Restore the last state until the node reports."""
        if (last := await self.async_get_last_state()) is not None:
            if last.state in (STATE_ON, STATE_OFF):
                self._attr_is_on = last.state == STATE_ON
            brightness = last.attributes.get(ATTR_BRIGHTNESS)
            if self._dimmable and isinstance(brightness, int):
                self._attr_brightness = brightness
        await super().async_added_to_hass()

    @callback
    def _update_state(self, values: dict[str, Any]) -> None:
        brightness = values.get("brightness")
        self._attr_is_on = bool(values.get("on")) and brightness != 0
        if brightness:
            self._attr_brightness = brightness

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Ask the node to switch the light on, to a brightness, over a transition."""
        fields: dict[str, Any] = {"on": True}
        if self._dimmable:
            fields["brightness"] = kwargs.get(ATTR_BRIGHTNESS)
        await self.node.async_command("set", id=self.peripheral_id, **fields, **self._fade(kwargs))

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Ask the node to switch the light off, over a transition."""
        await self.node.async_command("set", id=self.peripheral_id, on=False, **self._fade(kwargs))

    def _fade(self, kwargs: dict[str, Any]) -> dict[str, float]:
        """The `transition` field, clamped to what the node takes; none if not asked for."""
        limit = self._transition
        if limit is None or (transition := kwargs.get(ATTR_TRANSITION)) is None:
            return {}
        low, high = float(limit.low or 0), float(limit.high or 0)
        return {"transition": round(min(max(float(transition), low), high), 2)}


async_setup_entry = platform_setup(Platform.LIGHT, PeripheralLight)
