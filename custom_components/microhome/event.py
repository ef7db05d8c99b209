"""Events: what a peripheral tells once, such as a button's press, double press, long press."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventDeviceClass, EventEntity
from homeassistant.const import Platform
from homeassistant.core import callback

from . import catalogue
from .entity import MicroHomePeripheralEntity, platform_setup
from .node import MicroHomeNode
from .protocol import PeripheralState

PARALLEL_UPDATES = 0


class PeripheralEvent(MicroHomePeripheralEntity, EventEntity):
    """Fires once per state message that carries an event (never for a retained one, which
    protocol.parse_state drops, so an old press never fires after a restart or reconnect)."""

    _attr_device_class = EventDeviceClass.BUTTON

    def __init__(
        self, node: MicroHomeNode, peripheral: dict[str, Any], spec: catalogue.Entity
    ) -> None:
        """Set up the event entity of one peripheral; its types are the field's choices."""
        super().__init__(node, peripheral, spec)
        field = next(f for f in self.kind.state if f.key == spec.value)
        self._attr_event_types = list(field.choices)
        self._seen: PeripheralState | None = node.states.get(self.peripheral_id)

    @callback
    def _update_from_node(self) -> None:
        # Every message is a new PeripheralState: one fires once, whatever else updates us.
        state = self.node.states.get(self.peripheral_id)
        if state is not None and state is not self._seen:
            self._seen = state
            if (event := state.values.get(self.spec.value or "")) is not None:
                self._trigger_event(event)
        super()._update_from_node()


async_setup_entry = platform_setup(Platform.EVENT, PeripheralEvent)
