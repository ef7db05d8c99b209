"""Websocket API for the MicroHome panel (admin only): logs, nodes and bulk actions on them,
profiles, settings, fleet key."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Any

import probatio as vol
from homeassistant.components.websocket_api import (
    ERR_INVALID_FORMAT,
    ERR_NOT_FOUND,
    ActiveConnection,
    async_register_command,
    async_response,
    event_message,
    require_admin,
    websocket_command,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import FlowResultType, UnknownFlow
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from probatio.humanize import humanize_error

from .button import IDENTIFY_SECONDS
from .client import Change
from .const import DOMAIN
from .fleet import DATA_PROFILES, async_update_firmware, node_row
from .keys import async_flash_command, async_get_fleet_key
from .logs import DATA_LOGS, LogFilter, LogLine, LogManager, LogStream, record_as_dict
from .node import MicroHomeNode
from .ota_job import DATA_OTA, OtaResult, async_get_ota_manager
from .profiles import ProfileError, parse_overrides
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
# The commands the Nodes page sends to many nodes at once, and their fields.
NODE_COMMANDS: dict[str, dict[str, Any]] = {
    "reboot": {},
    "identify": {"seconds": IDENTIFY_SECONDS},
}

FILTER_SCHEMA: dict[str | vol.Marker, Any] = {
    vol.Optional("nodes"): vol.All([str], vol.Length(max=1000)),
    vol.Optional("min_level", default="D"): vol.In(LOG_LEVELS),
    vol.Optional("text", default=""): vol.All(str, vol.Length(max=500)),
    vol.Optional("since"): vol.Any(None, vol.Coerce(float)),
    vol.Optional("until"): vol.Any(None, vol.Coerce(float)),
}


type Handler = Callable[[HomeAssistant, ActiveConnection, dict[str, Any]], Any]


def _admin_command(
    command: str, schema: dict[str | vol.Marker, Any] | None = None
) -> Callable[[Handler], Handler]:
    """An admin-only websocket command; a coroutine handler answers in its own task."""

    def wrap(handler: Handler) -> Handler:
        inner: Handler = (
            async_response(handler) if inspect.iscoroutinefunction(handler) else callback(handler)
        )
        return websocket_command({vol.Required("type"): command, **(schema or {})})(
            require_admin(inner)
        )

    return wrap


@callback
def async_register_websocket_commands(hass: HomeAssistant) -> None:
    """Register every microhome/* websocket command."""
    for handler in (
        ws_logs_list,
        ws_logs_subscribe,
        ws_logs_clear,
        ws_nodes_list,
        ws_nodes_add,
        ws_nodes_apply_profile,
        ws_nodes_command,
        ws_nodes_ota,
        ws_profiles_list,
        ws_profiles_create,
        ws_profiles_update,
        ws_profiles_delete,
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


@_admin_command(
    "microhome/logs/list",
    {
        **FILTER_SCHEMA,
        vol.Optional("before"): vol.All(int, vol.Range(min=1)),
        vol.Optional("limit", default=DEFAULT_LIST_LIMIT): vol.All(
            int, vol.Range(min=1, max=LIST_LIMIT_MAX)
        ),
    },
)
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


@_admin_command(
    "microhome/logs/subscribe",
    {
        **FILTER_SCHEMA,
        vol.Optional("replay", default=DEFAULT_REPLAY): vol.All(
            int, vol.Range(min=0, max=LIST_LIMIT_MAX)
        ),
    },
)
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


@_admin_command("microhome/logs/clear", {vol.Optional("node"): str})
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


@_admin_command("microhome/nodes/list")
def ws_nodes_list(hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]) -> None:
    """Configured nodes, discovered nodes not added yet, and nodes known only from their logs."""
    logs = _manager(hass).nodes
    profiles = hass.data[DATA_PROFILES].profiles
    ota = hass.data.get(DATA_OTA)
    nodes: dict[str, dict[str, Any]] = {}
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        node = getattr(entry, "runtime_data", None)
        if not isinstance(node, MicroHomeNode):
            continue
        job = ota.jobs.get(node.node_id) if ota else None
        nodes[node.node_id] = {
            "id": node.node_id,
            "name": node.name,
            "online": node.online,
            "firmware": node.firmware,
            "last_seen": _timestamp(node.last_seen),
            "configured": True,
            "entry_id": entry.entry_id,
            "ota_progress": job.progress if job else None,
            **node_row(node, profiles),
        }
    for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN):
        node_id = flow["context"].get("unique_id")
        if not node_id or node_id in nodes or flow["step_id"] != "discovery_confirm":
            continue
        found = flow["context"].get("title_placeholders") or {}
        nodes[node_id] = _unconfigured(node_id) | {
            "name": found.get("name", node_id),
            "board": found.get("board"),
            "platform": found.get("platform"),
            "firmware": found.get("firmware"),
            "online": True,
            "flow_id": flow["flow_id"],
        }
    for node_id, log in logs.items():
        info = nodes.setdefault(node_id, _unconfigured(node_id))
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


def _unconfigured(node_id: str) -> dict[str, Any]:
    """A node row without a config entry: discovered, or known only from its logs."""
    return {
        "id": node_id,
        "name": node_id,
        "online": None,
        "firmware": None,
        "last_seen": None,
        "configured": False,
        "entry_id": None,
        "flow_id": None,
        "board": None,
        "platform": None,
        "config_state": None,
        "profile": None,
    }


def _selected_nodes(
    hass: HomeAssistant, entry_ids: list[str]
) -> tuple[list[MicroHomeNode], dict[str, dict[str, Any]]]:
    """The loaded nodes of entry_ids, and a failed result for every other id."""
    nodes: list[MicroHomeNode] = []
    missing: dict[str, dict[str, Any]] = {}
    for entry_id in dict.fromkeys(entry_ids):
        entry = hass.config_entries.async_get_entry(entry_id)
        node = getattr(entry, "runtime_data", None) if entry and entry.domain == DOMAIN else None
        if isinstance(node, MicroHomeNode) and entry and entry.state is ConfigEntryState.LOADED:
            nodes.append(node)
        else:
            missing[entry_id] = {
                "name": entry.title if entry else entry_id,
                "result": "failed",
                "error": "not a loaded MicroHome node",
            }
    return nodes, missing


def _error_text(err: HomeAssistantError) -> str:
    return str(err).rstrip(".") or type(err).__name__


ENTRY_IDS = vol.All([str], vol.Length(min=1, max=1000))


@_admin_command(
    "microhome/nodes/add",
    {vol.Required("flow_ids"): ENTRY_IDS, vol.Optional("profile"): vol.Any(None, str)},
)
async def ws_nodes_add(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Add discovered nodes (confirm their discovery flows), each following profile if given."""
    results: dict[str, dict[str, Any]] = {}
    user_input = {"profile": msg["profile"]} if msg.get("profile") else {}
    for flow_id in dict.fromkeys(msg["flow_ids"]):
        try:
            flow = hass.config_entries.flow.async_get(flow_id)
        except UnknownFlow:
            results[flow_id] = {"result": "failed", "error": "no such discovered node"}
            continue
        if flow["handler"] != DOMAIN or flow["step_id"] != "discovery_confirm":
            results[flow_id] = {"result": "failed", "error": "not a discovered MicroHome node"}
            continue
        try:
            if user_input:
                # The form offers the profiles that existed when it was shown: show it anew.
                await hass.config_entries.flow.async_configure(flow_id)
            result = await hass.config_entries.flow.async_configure(flow_id, user_input)
        except (HomeAssistantError, vol.Invalid) as err:
            results[flow_id] = {"result": "failed", "error": str(err)}
            continue
        if result["type"] is FlowResultType.CREATE_ENTRY:
            results[flow_id] = {"result": "added", "entry_id": result["result"].entry_id}
        else:
            errors = result.get("errors") or {}
            placeholders = result.get("description_placeholders") or {}
            results[flow_id] = {
                "result": "failed",
                "error": placeholders.get("errors") or ", ".join(errors.values()) or "not added",
            }
    connection.send_result(msg["id"], {"results": results})


@_admin_command(
    "microhome/nodes/apply_profile",
    {
        vol.Required("entry_ids"): ENTRY_IDS,
        vol.Required("profile"): str,
        vol.Optional("overrides"): dict,
    },
)
async def ws_nodes_apply_profile(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """The nodes follow the profile; each node's result (one at a time, at a bounded rate).

    `overrides` (by node id, then peripheral id) replaces those nodes' overrides.
    """
    manager = hass.data[DATA_PROFILES]
    nodes, results = _selected_nodes(hass, msg["entry_ids"])
    try:
        overrides = {
            str(node_id): parse_overrides(patch)
            for node_id, patch in (msg.get("overrides") or {}).items()
        }
        pushed = await manager.async_apply([n.entry for n in nodes], msg["profile"], overrides)
    except (ServiceValidationError, ProfileError) as err:
        connection.send_error(msg["id"], ERR_INVALID_FORMAT, str(err))
        return
    by_node = {node.node_id: node.entry.entry_id for node in nodes}
    results |= {by_node[r.node_id]: r.as_dict() for r in pushed}
    connection.send_result(msg["id"], {"results": results})


@_admin_command(
    "microhome/nodes/command",
    {vol.Required("entry_ids"): ENTRY_IDS, vol.Required("command"): vol.In(NODE_COMMANDS)},
)
async def ws_nodes_command(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Reboot or identify the nodes, all at once; each node's result."""
    nodes, results = _selected_nodes(hass, msg["entry_ids"])
    fields = NODE_COMMANDS[msg["command"]]

    async def send(node: MicroHomeNode) -> dict[str, Any]:
        try:
            await node.async_command(msg["command"], **fields)
        except HomeAssistantError as err:
            return {"name": node.name, "result": "failed", "error": _error_text(err)}
        return {"name": node.name, "result": "done"}

    done = await asyncio.gather(*(send(node) for node in nodes))
    results |= {node.entry.entry_id: result for node, result in zip(nodes, done, strict=True)}
    connection.send_result(msg["id"], {"results": results})


@_admin_command(
    "microhome/nodes/ota",
    {
        vol.Required("entry_ids"): ENTRY_IDS,
        vol.Optional("version"): vol.Any(None, str),
        vol.Optional("force", default=False): bool,
        vol.Optional("concurrency", default=4): vol.All(int, vol.Range(min=1, max=10)),
    },
)
async def ws_nodes_ota(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Update the nodes' firmware; events report each node's progress, then its result.

    The updates go on when the subscription ends; only the events stop.
    """
    msg_id = msg["id"]
    manager = await async_get_ota_manager(hass)
    await manager.async_refresh()
    try:
        bundle = manager.bundle(msg.get("version"))
    except ServiceValidationError as err:
        connection.send_error(msg_id, ERR_INVALID_FORMAT, _error_text(err))
        return
    nodes, failed = _selected_nodes(hass, msg["entry_ids"])

    def send(event: dict[str, Any]) -> None:
        if msg_id in connection.subscriptions:
            connection.send_message(event_message(msg_id, event))

    def progress(node: MicroHomeNode) -> Callable[[], None]:
        def report() -> None:
            if (job := manager.jobs.get(node.node_id)) is None:
                return  # finished: its result follows
            send(
                {
                    "entry_id": node.entry.entry_id,
                    "state": job.status.state if job.status else "starting",
                    "progress": job.progress,
                }
            )

        return report

    removers = [node.listen(Change.OTA_JOB, progress(node)) for node in nodes]
    entry_ids = {node.node_id: node.entry.entry_id for node in nodes}

    @callback
    def stop() -> None:
        for remove in removers:
            remove()

    connection.subscriptions[msg_id] = stop
    connection.send_result(msg_id, {"version": bundle.version})
    for entry_id, result in failed.items():
        send({"entry_id": entry_id, "result": result})

    def on_result(result: OtaResult) -> None:
        send({"entry_id": entry_ids[result.node_id], "result": result.as_dict()})

    async def run() -> None:
        await async_update_firmware(
            manager,
            nodes,
            bundle,
            force=msg["force"],
            concurrency=msg["concurrency"],
            on_result=on_result,
        )
        send({"done": True})

    hass.async_create_background_task(run(), f"{DOMAIN} panel OTA")


def _one_node(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any], entry_id: str
) -> MicroHomeNode | None:
    """The loaded node of entry_id; None, with msg answered by an error, if there is none."""
    nodes, _missing = _selected_nodes(hass, [entry_id])
    if not nodes:
        connection.send_error(msg["id"], ERR_NOT_FOUND, "not a loaded MicroHome node")
        return None
    return nodes[0]


def _profiles_result(hass: HomeAssistant) -> dict[str, Any]:
    manager = hass.data[DATA_PROFILES]
    return {
        "profiles": [
            profile.as_dict()
            | {"followers": [entry.entry_id for entry in manager.followers(profile.profile_id)]}
            for profile in manager.profiles.values()
        ]
    }


@_admin_command("microhome/profiles/list")
def ws_profiles_list(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Every profile and the config entries of its followers."""
    connection.send_result(msg["id"], _profiles_result(hass))


@_admin_command(
    "microhome/profiles/create",
    {
        vol.Required("name"): vol.All(str, vol.Length(min=1, max=64)),
        vol.Required("entry_id"): str,
        vol.Optional("follow", default=True): bool,
    },
)
async def ws_profiles_create(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """A new profile made of a node's configuration; the node follows it unless follow is off."""
    if (node := _one_node(hass, connection, msg, msg["entry_id"])) is None:
        return
    try:
        profile = await hass.data[DATA_PROFILES].async_create(
            msg["name"], node.entry, follow=msg["follow"]
        )
    except ServiceValidationError as err:
        connection.send_error(msg["id"], ERR_INVALID_FORMAT, _error_text(err))
        return
    connection.send_result(msg["id"], {"profile": profile.as_dict()})


@_admin_command(
    "microhome/profiles/update",
    {
        vol.Required("profile"): str,
        vol.Optional("name"): str,
        vol.Optional("telemetry_interval"): int,
        vol.Optional("log_level"): str,
        vol.Optional("sensors"): list,
        vol.Optional("from_entry_id"): str,
    },
)
async def ws_profiles_update(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Change a profile; every follower gets the result, each node's result is returned.

    `from_entry_id` names a node whose peripherals become the profile's; it then follows it.
    """
    source = None
    if "from_entry_id" in msg:
        if (node := _one_node(hass, connection, msg, msg["from_entry_id"])) is None:
            return
        source = node.entry
    changes = {k: v for k, v in msg.items() if k not in ("id", "type", "profile", "from_entry_id")}
    try:
        pushed = await hass.data[DATA_PROFILES].async_update(msg["profile"], changes, source)
    except ServiceValidationError as err:
        connection.send_error(msg["id"], ERR_INVALID_FORMAT, _error_text(err))
        return
    connection.send_result(msg["id"], {"results": {r.node_id: r.as_dict() for r in pushed}})


@_admin_command("microhome/profiles/delete", {vol.Required("profile"): str})
async def ws_profiles_delete(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """Forget a profile; its nodes keep their configuration as their own."""
    try:
        kept = await hass.data[DATA_PROFILES].async_delete(msg["profile"])
    except ServiceValidationError as err:
        connection.send_error(msg["id"], ERR_NOT_FOUND, _error_text(err))
        return
    connection.send_result(msg["id"], {"own_configuration": kept})


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


@_admin_command("microhome/settings/get")
async def ws_settings_get(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """The global settings as set (empty `ha_address`: automatic) and their defaults."""
    await _send_settings(hass, connection, msg, (await async_get_manager(hass)).stored)


@_admin_command(
    "microhome/settings/set",
    {
        vol.Optional("ftp_port"): object,
        vol.Optional("ftp_passive_ports"): object,
        vol.Optional("ha_address"): object,
        vol.Optional("log_history"): object,
    },
)
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


@_admin_command("microhome/fleet_key/get")
async def ws_fleet_key_get(
    hass: HomeAssistant, connection: ActiveConnection, msg: dict[str, Any]
) -> None:
    """The fleet key and a `microhome flash` command that uses it."""
    key = await async_get_fleet_key(hass)
    broker, command = await async_flash_command(hass, key)
    connection.send_result(
        msg["id"], {"fleet_key": key.hex(), "broker": broker, "command": command}
    )
