"""Buttons: reboot and identify the node."""

from __future__ import annotations

from collections.abc import Iterator

from homeassistant.components.button import (
    ButtonDeviceClass,
    ButtonEntity,
    ButtonEntityDescription,
)
from homeassistant.const import EntityCategory, Platform

from .entity import MicroHomeEntity, platform_setup
from .node import MicroHomeNode

PARALLEL_UPDATES = 1
IDENTIFY_SECONDS = 10

BUTTONS: tuple[ButtonEntityDescription, ...] = (
    ButtonEntityDescription(
        key="reboot",
        translation_key="reboot",
        device_class=ButtonDeviceClass.RESTART,
        entity_category=EntityCategory.CONFIG,
    ),
    ButtonEntityDescription(
        key="identify",
        translation_key="identify",
        device_class=ButtonDeviceClass.IDENTIFY,
        entity_category=EntityCategory.CONFIG,
    ),
)


class NodeButton(MicroHomeEntity, ButtonEntity):
    """Reboot or identify (blink the status LED of) the node."""

    def __init__(self, node: MicroHomeNode, description: ButtonEntityDescription) -> None:
        """Set up one button."""
        self.entity_description = description
        super().__init__(node, description.key)

    async def async_press(self) -> None:
        """Send the command; raises if the node refuses it or does not answer."""
        if self.entity_description.key == "identify":
            await self.node.async_command("identify", seconds=IDENTIFY_SECONDS)
        else:
            await self.node.async_command("reboot")


def _buttons(node: MicroHomeNode) -> Iterator[MicroHomeEntity]:
    for description in BUTTONS:
        yield NodeButton(node, description)


async_setup_entry = platform_setup(Platform.BUTTON, node_entities=_buttons)
