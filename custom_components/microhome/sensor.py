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
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from . import catalogue
from .client import Change
from .entity import MicroHomeEntity, MicroHomePeripheralEntity, async_setup_peripheral_entities
from .node import MicroHomeConfigEntry, MicroHomeNode

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


DIAGNOSTICS: tuple[DiagnosticDescription, ...] = (
    DiagnosticDescription(
        key="rssi",
        translation_key="rssi",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value=_telemetry("rssi"),
    ),
    DiagnosticDescription(
        key="uptime",
        translation_key="uptime",
        device_class=SensorDeviceClass.DURATION,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value=_telemetry("uptime"),
    ),
    DiagnosticDescription(
        key="mem_free",
        translation_key="mem_free",
        device_class=SensorDeviceClass.DATA_SIZE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfInformation.BYTES,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value=_telemetry("mem_free"),
    ),
    DiagnosticDescription(
        key="ip",
        translation_key="ip",
        entity_category=EntityCategory.DIAGNOSTIC,
        value=_ip,
    ),
    DiagnosticDescription(
        key="reset_cause",
        translation_key="reset_cause",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value=_telemetry("reset_cause"),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicroHomeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the node's diagnostic sensors and the sensors of its peripherals (catalogue)."""

    def diagnostics(node: MicroHomeNode) -> Iterator[MicroHomeEntity]:
        for description in DIAGNOSTICS:
            yield DiagnosticSensor(node, description)

    async_setup_peripheral_entities(
        hass,
        entry,
        async_add_entities,
        Platform.SENSOR,
        PeripheralSensor,
        node_entities=diagnostics,
    )


class PeripheralSensor(MicroHomePeripheralEntity, RestoreSensor):
    """One reported value of a peripheral; the last value is restored after a restart."""

    def __init__(
        self, node: MicroHomeNode, peripheral: dict[str, Any], spec: catalogue.Entity
    ) -> None:
        """Set up the sensor of one value of one peripheral."""
        self.entity_description = SensorEntityDescription(
            key=spec.key or "",
            device_class=SensorDeviceClass(spec.device_class) if spec.device_class else None,
            state_class=SensorStateClass(spec.state_class) if spec.state_class else None,
            native_unit_of_measurement=spec.unit,
            suggested_display_precision=spec.precision,
        )
        super().__init__(node, peripheral, spec)

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
