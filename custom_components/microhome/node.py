"""One MicroHome node: its MQTT subscriptions, last known state, commands and configuration."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from . import const, protocol
from .const import (
    CONF_ANNOUNCE,
    CONF_NODE_ID,
    CONF_PLATFORM,
    CONF_SENSORS,
    CONF_VERSION,
    DOMAIN,
    MANUFACTURER,
    signal_update,
)
from .protocol import (
    Announce,
    ConfigState,
    OtaStatus,
    ProtocolError,
    SensorState,
    Telemetry,
)

_LOGGER = logging.getLogger(__name__)

# The last `n` sent to each node, kept across entry reloads so `n` never goes back.
_LAST_N: HassKey[dict[str, int]] = HassKey(f"{DOMAIN}_last_n")

type MicroHomeConfigEntry = ConfigEntry[MicroHomeNode]


def key_mismatch_issue_id(node_id: str) -> str:
    """The repair issue raised when a node's key_id is not the fleet's."""
    return f"key_mismatch_{node_id}"


def safe_mode_issue_id(node_id: str) -> str:
    """The repair issue raised while a node runs in safe mode."""
    return f"safe_mode_{node_id}"


def config_rejected_issue_id(node_id: str) -> str:
    """The repair issue raised when a node refuses its configuration."""
    return f"config_rejected_{node_id}"


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


class MicroHomeNode:
    """The runtime data of one config entry: one node."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], fleet_key: bytes) -> None:
        """Set up the node from its config entry; nothing is subscribed yet."""
        self.hass = hass
        self.entry = entry
        self.node_id: str = entry.data[CONF_NODE_ID]
        self.key = protocol.node_key(fleet_key, self.node_id)
        self.key_id = protocol.key_id(self.key)
        self.online = False
        self.mqtt_connected = mqtt.is_connected(hass)
        self.announce: Announce | None = None
        if stored := entry.data.get(CONF_ANNOUNCE):
            try:
                self.announce = protocol.parse_announce(protocol.dump_body(stored))
            except ProtocolError:
                self.announce = None
        self.telemetry: Telemetry | None = None
        self.config_state: ConfigState | None = None
        self.ota_status: OtaStatus | None = None
        self.states: dict[str, SensorState] = {}
        self.last_seen: datetime | None = None
        self.pushed_version: int = self.config_version
        self._replies: dict[int, asyncio.Future[protocol.Reply]] = {}
        self._warned: set[str] = set()

    # --- what entities and flows read ----------------------------------------------------------

    @property
    def name(self) -> str:
        """The node's name in Home Assistant."""
        return self.entry.title

    @property
    def firmware(self) -> str | None:
        """The firmware version from the last announce."""
        return self.announce.fw if self.announce else None

    @property
    def platform(self) -> str:
        """The node's platform (rp2, esp32, unix)."""
        if self.announce:
            return self.announce.platform
        return str(self.entry.data.get(CONF_PLATFORM, "rp2"))

    @property
    def available(self) -> bool:
        """Whether the node is online and the broker reachable."""
        return self.online and self.mqtt_connected

    @property
    def config(self) -> dict[str, Any]:
        """The node's configuration as kept in the entry's options."""
        return dict(self.entry.options)

    @property
    def config_version(self) -> int:
        """The version of the configuration in the entry (0: never set)."""
        return int(self.entry.options.get(CONF_VERSION, 0))

    @property
    def sensors(self) -> list[dict[str, Any]]:
        """The configured sensors."""
        return list(self.entry.options.get(CONF_SENSORS, []))

    def sensor(self, sensor_id: str) -> dict[str, Any] | None:
        """One configured sensor by id."""
        return next((s for s in self.sensors if s["id"] == sensor_id), None)

    @property
    def config_pending(self) -> bool:
        """Whether the node has not yet answered the current configuration."""
        if self.config_version == 0:
            return False
        state = self.config_state
        return state is None or state.version != self.config_version

    @property
    def config_rejected(self) -> bool:
        """Whether the node refused the current configuration."""
        state = self.config_state
        return state is not None and state.version == self.config_version and not state.ok

    # --- subscriptions -------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Subscribe to the node's topics; released when the entry unloads."""
        handlers: dict[str, Callable[[mqtt.ReceiveMessage], None]] = {
            "status": self._on_status,
            "announce": self._on_announce,
            "state/+": self._on_state,
            "telemetry": self._on_telemetry,
            "config/state": self._on_config_state,
            "ota/status": self._on_ota_status,
            "reply": self._on_reply,
            "log": self._on_log,
        }
        for suffix, handler in handlers.items():
            self.entry.async_on_unload(
                await mqtt.async_subscribe(
                    self.hass,
                    protocol.topic(self.node_id, suffix),
                    self._guarded(suffix, handler),
                    qos=1,
                    encoding=None,
                )
            )
        self.entry.async_on_unload(
            mqtt.async_subscribe_connection_status(self.hass, self._on_connection)
        )
        self.entry.async_on_unload(self._cancel_replies)

    def _guarded(
        self, kind: str, handler: Callable[[mqtt.ReceiveMessage], None]
    ) -> Callable[[mqtt.ReceiveMessage], None]:
        """handler with size check, last_seen and protocol errors logged instead of raised."""

        @callback
        def on_message(msg: mqtt.ReceiveMessage) -> None:
            if not msg.retain:
                self.last_seen = dt_util.utcnow()
            try:
                protocol.check_size(msg.payload)
                handler(msg)
            except ProtocolError as err:
                self._drop(kind, msg.topic, str(err))

        return on_message

    def _drop(self, kind: str, topic: str, reason: str) -> None:
        """Log a dropped payload: a warning the first time per topic kind, then debug."""
        level = logging.DEBUG if kind in self._warned else logging.WARNING
        self._warned.add(kind)
        _LOGGER.log(level, "Dropped a payload from node %s on %s: %s", self.node_id, topic, reason)

    def _send(self, what: str) -> None:
        async_dispatcher_send(self.hass, signal_update(self.node_id, what))

    @callback
    def _on_connection(self, connected: bool) -> None:
        self.mqtt_connected = connected
        self._send("availability")

    @callback
    def _on_status(self, msg: mqtt.ReceiveMessage) -> None:
        online = protocol.parse_status(msg.payload)
        if online != self.online:
            self.online = online
            if online:
                _LOGGER.info("Node %s (%s) is online", self.node_id, self.name)
            else:
                _LOGGER.info("Node %s (%s) is offline", self.node_id, self.name)
            self._send("availability")

    @callback
    def _on_announce(self, msg: mqtt.ReceiveMessage) -> None:
        if not msg.payload:
            return  # a cleared retained announce
        announce = protocol.parse_announce(msg.payload, self.node_id)
        changed = announce != self.announce
        self.announce = announce
        self._check_key_id()
        self._update_safe_mode_issue()
        if changed:
            self.hass.config_entries.async_update_entry(
                self.entry,
                data={**self.entry.data, CONF_ANNOUNCE: announce.as_dict()},
            )
            self.async_update_device()
            self._send("announce")
        if announce.cfg < self.config_version and not self.config_rejected:
            _LOGGER.info(
                "Node %s runs configuration %s, sending %s again",
                self.node_id,
                announce.cfg,
                self.config_version,
            )
            self.entry.async_create_task(self.hass, self.async_push_config(), "push config")

    @callback
    def _on_state(self, msg: mqtt.ReceiveMessage) -> None:
        sensor_id = msg.topic.rsplit("/", 1)[-1]
        if not msg.payload:
            return  # the node emptied the retained state of a removed sensor
        sensor = self.sensor(sensor_id)
        if sensor is None:
            raise ProtocolError(f"unknown sensor id {sensor_id!r}")
        self.states[sensor_id] = protocol.parse_state(sensor["type"], msg.payload)
        self._send(f"state/{sensor_id}")

    @callback
    def _on_telemetry(self, msg: mqtt.ReceiveMessage) -> None:
        self.telemetry = protocol.parse_telemetry(msg.payload)
        self._send("telemetry")

    @callback
    def _on_config_state(self, msg: mqtt.ReceiveMessage) -> None:
        if not msg.payload:
            return
        self.config_state = protocol.parse_config_state(msg.payload)
        self._update_config_issue()
        self._send("config_state")

    @callback
    def _on_ota_status(self, msg: mqtt.ReceiveMessage) -> None:
        if not msg.payload:
            return
        self.ota_status = protocol.parse_ota_status(msg.payload)
        self._send("ota")

    @callback
    def _on_reply(self, msg: mqtt.ReceiveMessage) -> None:
        reply = protocol.parse_reply(msg.payload)
        future = self._replies.get(reply.n)
        if future is None:
            _LOGGER.debug("Node %s answered command %s nobody waits for", self.node_id, reply.n)
        elif not future.done():
            future.set_result(reply)

    @callback
    def _on_log(self, msg: mqtt.ReceiveMessage) -> None:
        """Log lines are stored by the log store (logs.py); here they only count as seen."""

    @callback
    def _cancel_replies(self) -> None:
        for future in self._replies.values():
            future.cancel()
        self._replies.clear()

    # --- device and repairs --------------------------------------------------------------------

    @callback
    def async_update_device(self) -> dr.DeviceEntry:
        """Create or update the node's device from the entry and the last announce."""
        registry = dr.async_get(self.hass)
        announce = self.announce
        device = registry.async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, self.node_id)},
            manufacturer=MANUFACTURER,
            name=self.name,
            suggested_area=announce.name if announce and announce.name else None,
            serial_number=self.node_id,
        )
        updates: dict[str, Any] = {}
        if announce is not None:
            updates = {
                "model": announce.board,
                "sw_version": announce.fw,
                "hw_version": announce.platform,
            }
            mac = (dr.CONNECTION_NETWORK_MAC, dr.format_mac(announce.mac))
            if announce.mac and mac not in device.connections:
                updates["new_connections"] = {*device.connections, mac}
        if updates:
            device = registry.async_update_device(device.id, **updates) or device
        return device

    def _check_key_id(self) -> None:
        announce = self.announce
        issue_id = key_mismatch_issue_id(self.node_id)
        if announce is None or announce.key_id == self.key_id:
            async_set_issue(self.hass, issue_id, None)
            return
        async_set_issue(
            self.hass,
            issue_id,
            "key_mismatch",
            {
                "name": self.name,
                "node_id": self.node_id,
                "node_key_id": announce.key_id,
                "key_id": self.key_id,
            },
        )

    def _update_safe_mode_issue(self) -> None:
        announce = self.announce
        reason = announce.safe_mode if announce else None
        async_set_issue(
            self.hass,
            safe_mode_issue_id(self.node_id),
            None if reason is None else "safe_mode",
            None if reason is None else {"name": self.name, "reason": reason},
        )

    def _update_config_issue(self) -> None:
        issue_id = config_rejected_issue_id(self.node_id)
        state = self.config_state
        if state is None or state.version != self.config_version:
            return
        if state.ok:
            async_set_issue(self.hass, issue_id, None)
            return
        async_set_issue(
            self.hass,
            issue_id,
            "config_rejected",
            {
                "name": self.name,
                "version": str(state.version),
                "errors": "; ".join(state.errors) or "-",
            },
        )

    # --- sending -------------------------------------------------------------------------------

    def _next_n(self) -> int:
        """Wall-clock milliseconds, but always more than the last `n` sent to this node."""
        last = self.hass.data.setdefault(_LAST_N, {})
        n = max(time.time_ns() // 1_000_000, last.get(self.node_id, 0) + 1)
        last[self.node_id] = n
        return n

    async def async_push_config(self) -> None:
        """Publish the entry's configuration as the node's retained, signed config/set."""
        if self.config_version == 0:
            return
        config_topic = protocol.topic(self.node_id, "config/set")
        body = protocol.config_body(self.config, self._next_n())
        await mqtt.async_publish(
            self.hass,
            config_topic,
            protocol.signed_payload(self.key, config_topic, body),
            qos=1,
            retain=True,
        )
        self.pushed_version = self.config_version
        _LOGGER.debug("Sent configuration %s to node %s", self.pushed_version, self.node_id)

    async def async_config_updated(self) -> None:
        """The entry changed: push a new configuration, tell the entities."""
        self.async_update_device()
        if self.config_version != self.pushed_version:
            await self.async_push_config()
        self._send("config")

    async def async_command(self, cmd: str, **fields: Any) -> protocol.Reply:
        """Send a signed command and wait for the node's reply; HomeAssistantError if refused."""
        placeholders = {"name": self.name}
        if not self.available:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="node_offline",
                translation_placeholders=placeholders,
            )
        n = self._next_n()
        cmd_topic = protocol.topic(self.node_id, "cmd")
        body = protocol.command_body(n, cmd, **fields)
        future: asyncio.Future[protocol.Reply] = self.hass.loop.create_future()
        self._replies[n] = future
        try:
            await mqtt.async_publish(
                self.hass, cmd_topic, protocol.signed_payload(self.key, cmd_topic, body), qos=1
            )
            async with asyncio.timeout(const.REPLY_TIMEOUT):
                reply = await future
        except TimeoutError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="no_reply",
                translation_placeholders=placeholders,
            ) from err
        finally:
            self._replies.pop(n, None)
        if not reply.ok:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="command_refused",
                translation_placeholders={**placeholders, "error": reply.error or "-"},
            )
        return reply

    def diagnostics(self) -> dict[str, Any]:
        """What the node's diagnostics show (redacted by the caller)."""
        return {
            "online": self.online,
            "mqtt_connected": self.mqtt_connected,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "announce": self.announce.as_dict() if self.announce else None,
            "telemetry": _asdict(self.telemetry),
            "config_version": self.config_version,
            "config_pushed_version": self.pushed_version,
            "config_pending": self.config_pending,
            "config_state": _asdict(self.config_state),
            "ota_status": _asdict(self.ota_status),
            "states": {key: _asdict(value) for key, value in self.states.items()},
            "key_id": self.key_id,
        }


def _asdict(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return {name: getattr(value, name) for name in value.__dataclass_fields__}
