"""Services of MicroHome, registered once in async_setup."""

from __future__ import annotations

import probatio
from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv

from . import protocol
from .const import DOMAIN
from .node import MicroHomeConfigEntry

ATTR_CONFIG_ENTRY_ID = "config_entry_id"
SERVICE_PUSH_CONFIG = "push_config"
SERVICE_DISCOVER = "discover"

PUSH_CONFIG_SCHEMA = probatio.Schema({probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string})


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


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register microhome.push_config and microhome.discover."""
    hass.services.async_register(
        DOMAIN, SERVICE_PUSH_CONFIG, _async_push_config, schema=PUSH_CONFIG_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_DISCOVER, _async_discover, schema=probatio.Schema({})
    )
