"""Services of MicroHome, registered once in async_setup."""

from __future__ import annotations

import asyncio

import probatio
from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import service
from homeassistant.helpers.target import TargetSelection, async_extract_referenced_entity_ids

from . import protocol
from .config_flow import LOG_LEVEL_OF_NAME
from .const import DOMAIN
from .fleet import async_get_profiles, async_update_firmware, async_wait_applied
from .node import MicroHomeConfigEntry, MicroHomeNode
from .ota_job import async_get_ota_manager
from .profiles import ProfileError, parse_overrides

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
ATTR_VERSION = "version"
ATTR_FORCE = "force"
ATTR_CONCURRENCY = "concurrency"
SERVICE_PUSH_CONFIG = "push_config"
SERVICE_DISCOVER = "discover"
SERVICE_OTA_UPDATE = "ota_update"
SERVICE_APPLY_PROFILE = "apply_profile"
SERVICE_LEAVE_PROFILE = "leave_profile"
SERVICE_UPDATE_PROFILE = "update_profile"
ATTR_PROFILE = "profile"
ATTR_OVERRIDES = "overrides"
ATTR_WAIT = "wait"
DEFAULT_CONCURRENCY = 4

PUSH_CONFIG_SCHEMA = probatio.Schema({probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string})
OTA_UPDATE_SCHEMA = cv.make_entity_service_schema(
    {
        probatio.Optional(ATTR_VERSION): cv.string,
        probatio.Optional(ATTR_FORCE, default=False): cv.boolean,
        probatio.Optional(ATTR_CONCURRENCY, default=DEFAULT_CONCURRENCY): probatio.All(
            probatio.Coerce(int), probatio.Range(min=1, max=10)
        ),
    }
)

APPLY_PROFILE_SCHEMA = cv.make_entity_service_schema(
    {
        probatio.Required(ATTR_PROFILE): cv.string,
        probatio.Optional(ATTR_OVERRIDES): dict,
        probatio.Optional(ATTR_WAIT, default=0): probatio.All(
            probatio.Coerce(float), probatio.Range(min=0, max=300)
        ),
    }
)
LEAVE_PROFILE_SCHEMA = cv.make_entity_service_schema({})
UPDATE_PROFILE_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_PROFILE): cv.string,
        probatio.Optional("name"): cv.string,
        probatio.Optional("telemetry_interval"): int,
        probatio.Optional("log_level"): probatio.All(
            probatio.In(LOG_LEVEL_OF_NAME), LOG_LEVEL_OF_NAME.__getitem__
        ),
        probatio.Optional("sensors"): list,
    }
)


def _loaded_entry(hass: HomeAssistant, entry_id: str) -> MicroHomeConfigEntry:
    entry: MicroHomeConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_entry",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"name": entry.title},
        )
    return entry


async def _async_push_config(call: ServiceCall) -> None:
    entry = _loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY_ID])
    await entry.runtime_data.async_push_config()


async def _async_discover(call: ServiceCall) -> None:
    await mqtt.async_publish(call.hass, protocol.DISCOVER_TOPIC, "discover")


def _not_a_node(target: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="not_a_node",
        translation_placeholders={"target": target},
    )


def _targeted_nodes(call: ServiceCall) -> list[MicroHomeNode]:
    """The nodes of the call's devices and entities (and those in its areas, floors, labels).

    A device or entity named directly that is not a MicroHome node's is an error.
    """
    hass = call.hass
    selection = TargetSelection(call.data)
    selected = async_extract_referenced_entity_ids(hass, selection, primary_entities_only=False)
    devices = dr.async_get(hass)
    entities = er.async_get(hass)
    entry_ids: dict[str, None] = {}

    def add(entry_id: str | None, target: str, named: bool) -> None:
        entry = hass.config_entries.async_get_entry(entry_id) if entry_id else None
        if entry is None or entry.domain != DOMAIN:
            if named:
                raise _not_a_node(target)
            return
        entry_ids[entry.entry_id] = None

    for entity_id in sorted(selected.referenced | selected.indirectly_referenced):
        entity = entities.async_get(entity_id)
        entry_id = entity.config_entry_id if entity and entity.platform == DOMAIN else None
        add(entry_id, entity_id, entity_id in selected.referenced)
    named_devices = selection.device_ids
    for device_id in sorted(selected.referenced_devices):
        device = devices.async_get(device_id)
        entry_id = next(
            (
                entry_id
                for entry_id in (device.config_entries if device else ())
                if (entry := hass.config_entries.async_get_entry(entry_id))
                and entry.domain == DOMAIN
            ),
            None,
        )
        add(entry_id, device_id, device_id in named_devices)
    if not entry_ids:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="no_nodes")
    return [_loaded_entry(hass, entry_id).runtime_data for entry_id in entry_ids]


async def _async_ota_update(call: ServiceCall) -> ServiceResponse:
    """Update the targeted nodes, at most `concurrency` at a time."""
    nodes = _targeted_nodes(call)
    manager = await async_get_ota_manager(call.hass)
    await manager.async_refresh()
    bundle = manager.bundle(call.data.get(ATTR_VERSION))
    results = await async_update_firmware(
        manager,
        nodes,
        bundle,
        force=call.data[ATTR_FORCE],
        concurrency=call.data[ATTR_CONCURRENCY],
    )
    if not call.return_response and (failed := [r for r in results if r.failed]):
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="ota_update_failed",
            translation_placeholders={
                "count": str(len(failed)),
                "total": str(len(results)),
                "errors": "; ".join(f"{r.name}: {r.result}, {r.error}" for r in failed),
            },
        )
    return {"nodes": {result.node_id: result.as_dict() for result in results}}


async def _async_apply_profile(call: ServiceCall) -> ServiceResponse:
    """The targeted nodes follow the profile; each gets its configuration, at a bounded rate."""
    nodes = _targeted_nodes(call)
    manager = await async_get_profiles(call.hass)
    profile = manager.get(call.data[ATTR_PROFILE])
    overrides = None
    if ATTR_OVERRIDES in call.data:
        try:
            patch = parse_overrides(call.data[ATTR_OVERRIDES])
        except ProfileError as err:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_profile",
                translation_placeholders={"errors": str(err)},
            ) from err
        overrides = {node.node_id: patch for node in nodes}
    results = await manager.async_apply(
        [node.entry for node in nodes], profile.profile_id, overrides
    )
    by_id = {node.node_id: node for node in nodes}
    results = await asyncio.gather(
        *(async_wait_applied(by_id[r.node_id], r, call.data[ATTR_WAIT]) for r in results)
    )
    return {"nodes": {result.node_id: result.as_dict() for result in results}}


async def _async_leave_profile(call: ServiceCall) -> ServiceResponse:
    """The targeted nodes keep their configuration as their own."""
    manager = await async_get_profiles(call.hass)
    nodes = _targeted_nodes(call)
    for node in nodes:
        await manager.async_detach(node.entry)
    return {"nodes": {node.node_id: {"name": node.name, "result": "own"} for node in nodes}}


async def _async_update_profile(call: ServiceCall) -> ServiceResponse:
    """Change a profile; every follower is sent the result, each node's result returned."""
    manager = await async_get_profiles(call.hass)
    changes = {key: value for key, value in call.data.items() if key != ATTR_PROFILE}
    results = await manager.async_update(call.data[ATTR_PROFILE], changes)
    return {"nodes": {result.node_id: result.as_dict() for result in results}}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register microhome.push_config, discover, ota_update and the profile actions."""
    hass.services.async_register(
        DOMAIN, SERVICE_PUSH_CONFIG, _async_push_config, schema=PUSH_CONFIG_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_DISCOVER, _async_discover, schema=probatio.Schema({})
    )
    # Firmware is as much an admin's business as update.install.
    service.async_register_admin_service(
        hass,
        DOMAIN,
        SERVICE_OTA_UPDATE,
        _async_ota_update,
        schema=OTA_UPDATE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    for name, handler, schema in (
        (SERVICE_APPLY_PROFILE, _async_apply_profile, APPLY_PROFILE_SCHEMA),
        (SERVICE_LEAVE_PROFILE, _async_leave_profile, LEAVE_PROFILE_SCHEMA),
        (SERVICE_UPDATE_PROFILE, _async_update_profile, UPDATE_PROFILE_SCHEMA),
    ):
        service.async_register_admin_service(
            hass, DOMAIN, name, handler, schema=schema, supports_response=SupportsResponse.OPTIONAL
        )
