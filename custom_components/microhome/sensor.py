"""Sensors: DHT22 temperature and humidity, and the node's diagnostics."""

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
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    Platform,
    UnitOfInformation,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .entity import MicroHomeEntity, MicroHomeSensorEntity, async_setup_dynamic_entities
from .node import MicroHomeConfigEntry, MicroHomeNode
from .protocol import ClimateState

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class ClimateDescription(SensorEntityDescription):
    """One value of a DHT22 reading."""

    value: Callable[[ClimateState], float | None]


CLIMATE: tuple[ClimateDescription, ...] = (
    ClimateDescription(
        key="temperature",
        translation_key="temperature",
        device_class=SensorDeviceClass.TEMPERATURE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS,
        suggested_display_precision=1,
        value=lambda state: state.temperature,
    ),
    ClimateDescription(
        key="humidity",
        translation_key="humidity",
        device_class=SensorDeviceClass.HUMIDITY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=1,
        value=lambda state: state.humidity,
    ),
)


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
    """Add the node's diagnostic sensors and a temperature and humidity sensor per DHT22."""

    def entities(node: MicroHomeNode) -> Iterator[MicroHomeEntity]:
        for description in DIAGNOSTICS:
            yield DiagnosticSensor(node, description)
        for sensor in node.sensors:
            if sensor["type"] == "dht22":
                for climate in CLIMATE:
                    yield ClimateSensor(node, sensor, climate)

    async_setup_dynamic_entities(hass, entry, async_add_entities, Platform.SENSOR, entities)


class ClimateSensor(MicroHomeSensorEntity, RestoreSensor):
    """Temperature or humidity of a DHT22; the last value is restored after a restart."""

    entity_description: ClimateDescription

    def __init__(
        self, node: MicroHomeNode, sensor: dict[str, Any], description: ClimateDescription
    ) -> None:
        """Set up one value of one DHT22."""
        self.entity_description = description
        super().__init__(node, sensor, f"_{description.key}")

    def _apply_name(self, sensor: dict[str, Any]) -> None:
        self._attr_translation_placeholders = {"sensor": sensor.get("name") or self.sensor_id}

    async def async_added_to_hass(self) -> None:
        """Restore the last value until the node reports."""
        if (last := await self.async_get_last_sensor_data()) is not None:
            self._attr_native_value = last.native_value
        await super().async_added_to_hass()

    @callback
    def _update_state(self) -> None:
        state = self.node.states.get(self.sensor_id)
        if isinstance(state, ClimateState):
            self._attr_native_value = self.entity_description.value(state)


class DiagnosticSensor(MicroHomeEntity, RestoreSensor):
    """A diagnostic value of the node."""

    entity_description: DiagnosticDescription
    _signals = ("telemetry", "announce")

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
