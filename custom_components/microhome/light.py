"""Lights: dimmable LEDs and the on/off status LED."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from homeassistant.components.light import (
    ATTR_BRIGHTNESS,
    ATTR_TRANSITION,
    ColorMode,
    LightEntity,
    LightEntityFeature,
)
from homeassistant.const import STATE_OFF, STATE_ON, Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import RestoreEntity

from .entity import MicroHomeEntity, MicroHomeSensorEntity, async_setup_dynamic_entities
from .node import MicroHomeConfigEntry, MicroHomeNode
from .protocol import TRANSITION_MAX, LightState

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicroHomeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a light per configured LED and status LED."""

    def entities(node: MicroHomeNode) -> Iterator[MicroHomeEntity]:
        for sensor in node.sensors:
            if sensor["type"] == "led":
                yield DimmableLight(node, sensor)
            elif sensor["type"] == "status_led":
                yield StatusLight(node, sensor)

    async_setup_dynamic_entities(hass, entry, async_add_entities, Platform.LIGHT, entities)


class StatusLight(MicroHomeSensorEntity, LightEntity, RestoreEntity):
    """The status LED: on/off. The state follows the node's echo, never the command."""

    _mode = ColorMode.ONOFF

    def __init__(self, node: MicroHomeNode, sensor: dict[str, Any]) -> None:
        """Set up the light of one configured LED."""
        super().__init__(node, sensor)
        self._attr_color_mode = self._mode
        self._attr_supported_color_modes = {self._mode}

    async def async_added_to_hass(self) -> None:
        """Restore the last state until the node reports."""
        if (last := await self.async_get_last_state()) is not None:
            self._restore(last.state, last.attributes)
        await super().async_added_to_hass()

    def _restore(self, state: str, attributes: Any) -> None:
        if state in (STATE_ON, STATE_OFF):
            self._attr_is_on = state == STATE_ON

    @callback
    def _update_state(self) -> None:
        state = self.node.states.get(self.sensor_id)
        if isinstance(state, LightState):
            self._take(state)

    def _take(self, state: LightState) -> None:
        self._attr_is_on = state.on

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Ask the node to switch the light on."""
        await self.node.async_command("set", id=self.sensor_id, on=True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Ask the node to switch the light off."""
        await self.node.async_command("set", id=self.sensor_id, on=False)


class DimmableLight(StatusLight):
    """A PWM LED with brightness and transition."""

    _mode = ColorMode.BRIGHTNESS
    _attr_supported_features = LightEntityFeature.TRANSITION

    def _restore(self, state: str, attributes: Any) -> None:
        super()._restore(state, attributes)
        if isinstance(brightness := attributes.get(ATTR_BRIGHTNESS), int):
            self._attr_brightness = brightness

    def _take(self, state: LightState) -> None:
        self._attr_is_on = state.on and state.brightness != 0
        if state.brightness:
            self._attr_brightness = state.brightness

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Ask the node to switch the LED on, to a brightness, over a transition."""
        await self.node.async_command(
            "set",
            id=self.sensor_id,
            on=True,
            brightness=kwargs.get(ATTR_BRIGHTNESS),
            transition=_transition(kwargs),
        )

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Ask the node to switch the LED off, over a transition."""
        await self.node.async_command(
            "set", id=self.sensor_id, on=False, transition=_transition(kwargs)
        )


def _transition(kwargs: dict[str, Any]) -> float | None:
    if (transition := kwargs.get(ATTR_TRANSITION)) is None:
        return None
    return round(min(max(float(transition), 0.0), TRANSITION_MAX), 2)
