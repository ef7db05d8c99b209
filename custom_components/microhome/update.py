"""Firmware update entity: one per node, installing bundles over FTP (ota_job.py)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.update import (
    UpdateDeviceClass,
    UpdateEntity,
    UpdateEntityFeature,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .client import Change
from .const import DOMAIN
from .entity import MicroHomeEntity
from .node import MicroHomeConfigEntry, MicroHomeNode
from .ota_job import SIGNAL_FIRMWARE, OtaManager, async_get_ota_manager

PARALLEL_UPDATES = 0  # installs run side by side; each node takes one at a time


async def async_setup_entry(
    hass: HomeAssistant,
    entry: MicroHomeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the node's firmware update entity."""
    manager = await async_get_ota_manager(hass)
    async_add_entities([NodeFirmwareUpdate(entry.runtime_data, manager)])


class NodeFirmwareUpdate(MicroHomeEntity, UpdateEntity):
    """The node's firmware: installed from the announce, latest from the bundles offered."""

    _attr_device_class = UpdateDeviceClass.FIRMWARE
    _attr_translation_key = "firmware"
    _attr_title = "MicroHome firmware"
    _attr_supported_features = (
        UpdateEntityFeature.INSTALL
        | UpdateEntityFeature.SPECIFIC_VERSION
        | UpdateEntityFeature.PROGRESS
        | UpdateEntityFeature.RELEASE_NOTES
    )
    _changes = (Change.ANNOUNCE, Change.OTA, Change.OTA_JOB)

    def __init__(self, node: MicroHomeNode, manager: OtaManager) -> None:
        """Set up the entity for node."""
        super().__init__(node, "firmware")
        self.manager = manager

    @property
    def available(self) -> bool:
        """Online, or offline while it reboots into an update."""
        return super().available or self.node.node_id in self.manager.jobs

    async def async_added_to_hass(self) -> None:
        """Also follow the bundles offered."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(self.hass, SIGNAL_FIRMWARE, self._handle_update)
        )

    @callback
    def _update_from_node(self) -> None:
        node_id = self.node.node_id
        self._attr_installed_version = self.node.firmware
        self._attr_latest_version = self.manager.offered_version(self.node.firmware)
        job = self.manager.jobs.get(node_id)
        self._attr_in_progress = job is not None
        self._attr_update_percentage = job.progress if job else None
        last = self.manager.results.get(node_id)
        self._attr_extra_state_attributes = {
            "last_result": last.result if last else None,
            "last_error": last.error if last else None,
        }

    async def async_release_notes(self) -> str | None:
        """The notes of the bundle offered, when it has any."""
        bundle = self.manager.bundles.get(self.latest_version or "")
        return bundle.notes if bundle else None

    async def async_install(self, version: str | None, backup: bool, **kwargs: Any) -> None:
        """Install `version` (asked for: also a re-install or downgrade) or the newest bundle."""
        await self.manager.async_refresh()
        bundle = self.manager.bundle(version)
        result = await self.manager.async_update(self.node, bundle, force=version is not None)
        if not result.ok:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=f"ota_{result.result}",
                translation_placeholders={
                    "name": self.node.name,
                    "version": result.version,
                    "error": result.error or "-",
                },
            )
