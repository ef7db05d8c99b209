"""Binary sensors: the on/off values peripherals report (catalogue), such as PIR motion."""

from __future__ import annotations

from typing import Any

from homeassistant.components.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from homeassistant.const import Platform

from .entity import RestoreOnOff, platform_setup

PARALLEL_UPDATES = 0


class PeripheralBinarySensor(RestoreOnOff, BinarySensorEntity):
    """An on/off value of a peripheral; the last state is restored after a restart."""

    def _apply_choices(self, peripheral: dict[str, Any]) -> None:
        spec = self.spec
        device_class = self.chosen(peripheral, spec.device_class_param, spec.device_class)
        self._attr_device_class = BinarySensorDeviceClass(device_class) if device_class else None


async_setup_entry = platform_setup(Platform.BINARY_SENSOR, PeripheralBinarySensor)
