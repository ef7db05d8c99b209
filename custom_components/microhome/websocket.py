"""Websocket API for the MicroHome panel (admin only): logs, nodes, settings, fleet key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import probatio as vol
from homeassistant.components.websocket_api import (
    ERR_INVALID_FORMAT,
    ActiveConnection,
    async_register_command,
    async_response,
    event_message,
    require_admin,
    websocket_command,
)
from homeassistant.core import HomeAssistant, callback
from probatio.humanize import humanize_error

from .const import DOMAIN
from .keys import async_flash_command, async_get_fleet_key
from .logs import DATA_LOGS, LogFilter, LogLine, LogManager, LogStream, record_as_dict
from .protocol import LOG_LEVELS
from .settings import (
    StoredSettings,
    async_default_address,
    async_get_manager,
    stored_as_dict,
)

LIST_LIMIT_MAX = 5000
DEFAULT_LIST_LIMIT = 200
DEFAULT_REPLAY = 200

FILTER_SCHEMA: dict[str | vol.Marker, Any] = {
    vol.Optional("nodes"): vol.All([str], vol.Length(max=1000)),
    vol.Optional("min_level", default="D"): vol.In(LOG_LEVELS),
    vol.Optional("text", default=""): vol.All(str, vol.Length(max=500)),
    vol.Optional("since"): vol.Any(None, vol.Coerce(float)),
    vol.Optional("until"): vol.Any(None, vol.Coerce(float)),
}


@callback
def async_register_websocket_commands(hass: HomeAssistant) -> None:
    """Register every microhome/* websocket command."""
    for handler in (
        ws_logs_list,
        ws_logs_subscribe,
        ws_logs_clear,
        ws_nodes_list,
        ws_settings_get,
        ws_settings_set,
        ws_fleet_key_get,
    ):
        async_register_command(hass, handler)


def _filter(msg: dict[str, Any]) -> LogFilter:
    nodes = msg.get("nodes")
    return LogFilter(
        nodes=None if nodes is None else frozenset(nodes),
        min_level=msg["min_level"],
        text=msg["text"],
        since=msg.get("since"),
        until=msg.get("until"),
    )


def _manager(hass: HomeAssistant) -> LogManager:
    return hass.data[DATA_LOGS]


@websocket_command(
    {
        vol.Required("type"): "microhome/logs/list",
        **FILTER_SCHEMA,
        vol.Optional("before"): vol.All(int, vol.Range(min=1)),
        vol.Optional("limit", default=DEFAULT_LIST_LIMIT): vol.All(
            int, vol.Range(min=1, max=LIST_LIMIT_MAX)
        ),
    }
)
@require_admin
@callback
def ws_logs_list(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Matching log lines, newest first; `before` (an id) pages to older lines."""
    records, more = _manager(hass).query(_filter(msg), msg["limit"], msg.get("before"))
    connection.send_result(
        msg["id"],
        {
            "entries": [record_as_dict(record) for record in records],
            "more": more,
            "next_before": records[-1].id if more else None,
        },
    )


@websocket_command(
    {
        vol.Required("type"): "microhome/logs/subscribe",
        **FILTER_SCHEMA,
        vol.Optional("replay", default=DEFAULT_REPLAY): vol.All(
            int, vol.Range(min=0, max=LIST_LIMIT_MAX)
        ),
    }
)
@require_admin
@callback
def ws_logs_subscribe(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Replay the latest matching lines, then stream new ones (oldest first in each event)."""
    manager = _manager(hass)
    log_filter = _filter(msg)
    msg_id = msg["id"]

    @callback
    def send_records(records: list[LogLine]) -> None:
        connection.send_message(
            event_message(msg_id, {"entries": [record_as_dict(record) for record in records]})
        )

    @callback
    def send_clear(node_id: str | None) -> None:
        connection.send_message(event_message(msg_id, {"cleared": node_id}))

    connection.subscriptions[msg_id] = manager.async_stream(
        LogStream(log_filter, send_records, send_clear)
    )
    connection.send_result(msg_id)
    if msg["replay"]:
        records, _more = manager.query(log_filter, msg["replay"])
        records.reverse()
        connection.send_message(
            event_message(
                msg_id,
                {"entries": [record_as_dict(record) for record in records], "replay": True},
            )
        )


@websocket_command({vol.Required("type"): "microhome/logs/clear", vol.Optional("node"): str})
@require_admin
@callback
def ws_logs_clear(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Forget one node's log lines, or every node's."""
    _manager(hass).async_clear(msg.get("node"))
    connection.send_result(msg["id"])


def _timestamp(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


@websocket_command({vol.Required("type"): "microhome/nodes/list"})
@require_admin
@callback
def ws_nodes_list(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Configured nodes and nodes known only from their logs."""
    logs = _manager(hass).nodes
    nodes: dict[str, dict[str, Any]] = {}
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        node = getattr(entry, "runtime_data", None)
        node_id = getattr(node, "node_id", None) or entry.unique_id
        if not node_id:
            continue
        nodes[node_id] = {
            "id": node_id,
            "name": getattr(node, "name", None) or entry.title,
            "online": bool(getattr(node, "online", False)),
            "firmware": getattr(node, "firmware", None),
            "last_seen": _timestamp(getattr(node, "last_seen", None)),
            "configured": True,
            "entry_id": entry.entry_id,
        }
    for node_id, log in logs.items():
        info = nodes.setdefault(
            node_id,
            {
                "id": node_id,
                "name": node_id,
                "online": None,
                "firmware": None,
                "last_seen": None,
                "configured": False,
                "entry_id": None,
            },
        )
        if log.last_seen is not None and (
            info["last_seen"] is None or log.last_seen > info["last_seen"]
        ):
            info["last_seen"] = log.last_seen
    for node_id, info in nodes.items():
        known = logs.get(node_id)
        info["lost"] = known.lost if known else 0
        info["entries"] = len(known.entries) if known else 0
        info["boot"] = known.boot if known else None
    connection.send_result(
        msg["id"], {"nodes": sorted(nodes.values(), key=lambda info: info["id"])}
    )


async def _send_settings(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any], stored: StoredSettings
) -> None:
    """Answer msg with the settings as stored, their defaults and the automatic address."""
    connection.send_result(
        msg["id"],
        {
            "settings": stored_as_dict(stored),
            "defaults": stored_as_dict(StoredSettings()),
            "ha_address_default": await async_default_address(hass),
        },
    )


@websocket_command({vol.Required("type"): "microhome/settings/get"})
@require_admin
@async_response
async def ws_settings_get(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """The global settings as set (empty `ha_address`: automatic) and their defaults."""
    await _send_settings(hass, connection, msg, (await async_get_manager(hass)).stored)


@websocket_command(
    {
        vol.Required("type"): "microhome/settings/set",
        vol.Optional("ftp_port"): object,
        vol.Optional("ftp_passive_ports"): object,
        vol.Optional("ha_address"): object,
        vol.Optional("log_history"): object,
    }
)
@require_admin
@async_response
async def ws_settings_set(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Change some settings; a bad value is refused with its reason and nothing changes."""
    manager = await async_get_manager(hass)
    changes = {key: value for key, value in msg.items() if key not in ("id", "type")}
    try:
        stored = await manager.async_update(changes)
    except vol.Invalid as err:
        connection.send_error(msg["id"], ERR_INVALID_FORMAT, humanize_error(changes, err))
        return
    await _send_settings(hass, connection, msg, stored)


@websocket_command({vol.Required("type"): "microhome/fleet_key/get"})
@require_admin
@async_response
async def ws_fleet_key_get(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """The fleet key and a `microhome flash` command that uses it."""
    key = await async_get_fleet_key(hass)
    broker, command = await async_flash_command(hass, key)
    connection.send_result(
        msg["id"], {"fleet_key": key.hex(), "broker": broker, "command": command}
    )
