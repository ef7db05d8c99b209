"""The nodes' repair issues: their ids and one helper that raises and clears them."""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN


def key_mismatch_issue_id(node_id: str) -> str:
    """The repair issue raised when a node's key_id is not the fleet's."""
    return f"key_mismatch_{node_id}"


def config_rejected_issue_id(node_id: str) -> str:
    """The repair issue raised when a node refuses its configuration."""
    return f"config_rejected_{node_id}"


def safe_mode_issue_id(node_id: str) -> str:
    """The repair issue raised while a node runs in safe mode."""
    return f"safe_mode_{node_id}"


def ota_issue_id(node_id: str) -> str:
    """The repair issue raised when an update of the node does not succeed."""
    return f"ota_failed_{node_id}"


def profile_refused_issue_id(node_id: str) -> str:
    """The repair issue raised when a profile's configuration does not suit the node."""
    return f"profile_refused_{node_id}"


def device_fault_issue_id(node_id: str) -> str:
    """The repair issue raised while devices of a node report errors."""
    return f"device_fault_{node_id}"


def node_issue_ids(node_id: str) -> tuple[str, ...]:
    """Every repair issue a node can have."""
    return (
        key_mismatch_issue_id(node_id),
        config_rejected_issue_id(node_id),
        safe_mode_issue_id(node_id),
        ota_issue_id(node_id),
        profile_refused_issue_id(node_id),
        device_fault_issue_id(node_id),
    )


@callback
def async_set_issue(
    hass: HomeAssistant,
    issue_id: str,
    translation_key: str | None,
    placeholders: dict[str, str] | None = None,
) -> None:
    """Raise a node's repair issue, or clear it when translation_key is None."""
    if translation_key is None:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.ERROR,
        translation_key=translation_key,
        translation_placeholders=placeholders,
    )
