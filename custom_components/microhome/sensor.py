"""Sensors: the values peripherals report (catalogue), and the node's diagnostics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    Platform,
    UnitOfInformation,
    UnitOfTime,
)
from homeassistant.core import callback
from homeassistant.helpers.typing import StateType

from . import catalogue
from .client import Change
from .entity import MicroHomeEntity, MicroHomePeripheralEntity, platform_setup
from .node import MicroHomeNode

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class DiagnosticDescription(SensorEntityDescription):
    """One diagnostic value of a node, from its telemetry or announce."""

    value: Callable[[MicroHomeNode], StateType]


def _telemetry(name: str) -> Callable[[MicroHomeNode], StateType]:
    def value(node: MicroHomeNode) -> StateType:
        return getattr(node.telemetry, name) if node.telemetry else None

    return value


def _ip(node: MicroHomeNode) -> StateType:
    if node.telemetry and node.telemetry.ip:
        return node.telemetry.ip
    return node.announce.ip if node.announce and node.announce.ip else None


def _diagnostic(
    key: str,
    value: Callable[[MicroHomeNode], StateType],
    *,
    enabled: bool = True,
    device_class: SensorDeviceClass | None = None,
    state_class: SensorStateClass | None = None,
    unit: str | None = None,
) -> DiagnosticDescription:
    """A diagnostic sensor's description; its name is translated under its key."""
    return DiagnosticDescription(
        key=key,
        translation_key=key,
        device_class=device_class,
        state_class=state_class,
        native_unit_of_measurement=unit,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=enabled,
        value=value,
    )


_MEASUREMENT = SensorStateClass.MEASUREMENT
DIAGNOSTICS: tuple[DiagnosticDescription, ...] = (
    _diagnostic(
        "rssi",
        _telemetry("rssi"),
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        state_class=_MEASUREMENT,
        unit=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    ),
    _diagnostic(
        "uptime",
        _telemetry("uptime"),
        enabled=False,
        device_class=SensorDeviceClass.DURATION,
        state_class=SensorStateClass.TOTAL_INCREASING,
        unit=UnitOfTime.SECONDS,
    ),
    _diagnostic(
        "mem_free",
        _telemetry("mem_free"),
        enabled=False,
        device_class=SensorDeviceClass.DATA_SIZE,
        state_class=_MEASUREMENT,
        unit=UnitOfInformation.BYTES,
    ),
    _diagnostic("ip", _ip),
    _diagnostic("reset_cause", _telemetry("reset_cause"), enabled=False),
)


class PeripheralSensor(MicroHomePeripheralEntity, RestoreSensor):
    """One reported value of a peripheral; the last value is restored after a restart."""

    def __init__(
        self, node: MicroHomeNode, peripheral: dict[str, Any], spec: catalogue.Entity
    ) -> None:
        """Set up the sensor of one value of one peripheral."""
        self.entity_description = SensorEntityDescription(
            key=spec.key or "",
            state_class=SensorStateClass(spec.state_class) if spec.state_class else None,
            suggested_display_precision=spec.precision,
        )
        super().__init__(node, peripheral, spec)

    def _apply_choices(self, peripheral: dict[str, Any]) -> None:
        spec = self.spec
        device_class = self.chosen(peripheral, spec.device_class_param, spec.device_class)
        self._attr_device_class = SensorDeviceClass(device_class) if device_class else None
        self._attr_native_unit_of_measurement = self.chosen(peripheral, spec.unit_param, spec.unit)

    async def async_added_to_hass(self) -> None:
        """Restore the last value until the node reports."""
        if (last := await self.async_get_last_sensor_data()) is not None:
            self._attr_native_value = last.native_value
        await super().async_added_to_hass()

    @callback
    def _update_state(self, values: dict[str, Any]) -> None:
        self._attr_native_value = values.get(self.spec.value or "")


class DiagnosticSensor(MicroHomeEntity, RestoreSensor):
    """A diagnostic value of the node."""

    entity_description: DiagnosticDescription
    _changes = (Change.TELEMETRY, Change.ANNOUNCE)

    def __init__(self, node: MicroHomeNode, description: DiagnosticDescription) -> None:
        """Set up one diagnostic sensor."""
        self.entity_description = description
        super().__init__(node, description.key)

    async def async_added_to_hass(self) -> None:
        """Restore the last value until the node reports."""
        if (last := await self.async_get_last_sensor_data()) is not None:
            self._attr_native_value = last.native_value
        await super().async_added_to_hass()

    @callback
    def _update_from_node(self) -> None:
        if (value := self.entity_description.value(self.node)) is not None:
            self._attr_native_value = value


def _diagnostics(node: MicroHomeNode) -> Iterator[MicroHomeEntity]:
    for description in DIAGNOSTICS:
        yield DiagnosticSensor(node, description)


async_setup_entry = platform_setup(Platform.SENSOR, PeripheralSensor, _diagnostics)
