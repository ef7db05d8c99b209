"""Diagnostics of a MicroHome node; keys and addresses redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .node import MicroHomeConfigEntry

TO_REDACT = {"key_id", "mac", "ip", "password", "user", "key", "fleet_key", "node_key"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MicroHomeConfigEntry
) -> dict[str, Any]:
    """The node's configuration, announce, telemetry and pending configuration."""
    return async_redact_data(
        {
            "entry": {
                "title": entry.title,
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "node": entry.runtime_data.diagnostics(),
        },
        TO_REDACT,
    )
