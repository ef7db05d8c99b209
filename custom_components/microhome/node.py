"""One MicroHome node in Home Assistant: the node client (client.py) on HA's MQTT, plus the
device registry, repairs and typed listeners for entities."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.util.hass_dict import HassKey

from . import client, const, protocol
from .client import Change, CommandRefused, Message, NodeClient, NodeOffline, NoReply
from .const import CONF_ANNOUNCE, CONF_AREA, CONF_NODE_ID, CONF_PLATFORM, DOMAIN, MANUFACTURER
from .issues import (
    async_set_issue,
    config_rejected_issue_id,
    device_fault_issue_id,
    key_mismatch_issue_id,
    safe_mode_issue_id,
)
from .protocol import Announce, ProtocolError, Reply

_LOGGER = logging.getLogger(__name__)

# The last `n` sent to each node, kept across entry reloads so `n` never goes back.
_LAST_N: HassKey[dict[str, int]] = HassKey(f"{DOMAIN}_last_n")
_TOPICS: HassKey[NodeTopics] = HassKey(f"{DOMAIN}_topics")

type MicroHomeConfigEntry = ConfigEntry[MicroHomeNode]


def _stored_announce(entry: ConfigEntry[Any]) -> Announce | None:
    if stored := entry.data.get(CONF_ANNOUNCE):
        try:
            return protocol.parse_announce(protocol.dump_body(stored))
        except ProtocolError:
            return None
    return None


class NodeTopics:
    """All nodes' topics on one MQTT subscription per kind (`microhome/+/status`, ...), held
    while any node listens and renewed when the MQTT integration comes back, and routed to
    the nodes by topic (client.Router)."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Nothing subscribed yet."""
        self.hass = hass
        self.router = client.Router()
        self._lock = asyncio.Lock()
        self._unsubscribe: list[Callable[[], None]] = []
        async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, self._mqtt_changed)

    @callback
    def _dispatch(self, msg: Message) -> None:
        self.router.dispatch(msg)

    async def _async_subscribe_mqtt(self) -> None:
        async with self._lock:
            if not self._unsubscribe:
                # `status` last: a node seen online has every other topic subscribed already.
                for suffix in sorted(client.NODE_TOPICS, key=lambda suffix: suffix == "status"):
                    self._unsubscribe.append(
                        await mqtt.async_subscribe(
                            self.hass,
                            protocol.topic("+", suffix),
                            self._dispatch,
                            qos=1 if suffix in client.QOS1_TOPICS else 0,
                            encoding=None,
                        )
                    )

    @callback
    def _mqtt_changed(self, change: ConfigEntryChange, entry: ConfigEntry[Any]) -> None:
        if entry.domain != mqtt.DOMAIN:
            return
        if entry.state is not ConfigEntryState.LOADED:
            self._unsubscribe.clear()  # they went away with the MQTT client
            self.router.clear()
        elif not self.router.idle:
            self.hass.async_create_task(self._async_subscribe_mqtt(), eager_start=True)

    async def subscribe(
        self, topic: str, on_message: Callable[[Message], None]
    ) -> Callable[[], None]:
        """Route topic's messages to on_message; subscribes to MQTT first if nothing is."""
        await self._async_subscribe_mqtt()
        self.router.subscribe(topic, on_message)
        return partial(self._release, topic, on_message)

    def _release(self, topic: str, on_message: Callable[[Message], None]) -> None:
        self.router.unsubscribe(topic, on_message)
        if self.router.idle and not self._lock.locked():
            for unsubscribe in self._unsubscribe:
                unsubscribe()
            self._unsubscribe.clear()
            self.router.clear()


class MicroHomeNode(NodeClient):
    """The runtime data of one config entry: one node."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], fleet_key: bytes) -> None:
        """Set up the node from its config entry; nothing is subscribed yet."""
        node_id: str = entry.data[CONF_NODE_ID]

        async def publish(topic: str, payload: str, qos: int, retain: bool) -> None:
            await mqtt.async_publish(hass, topic, payload, qos=qos, retain=retain)

        topics = hass.data.get(_TOPICS) or hass.data.setdefault(_TOPICS, NodeTopics(hass))

        super().__init__(
            node_id,
            protocol.node_key(fleet_key, node_id),
            publish,
            topics.subscribe,
            config=lambda: entry.options,
            last_n=hass.data.setdefault(_LAST_N, {}),
            announce=_stored_announce(entry),
            spawn=self._spawn_task,
        )
        self.hass = hass
        self.entry = entry
        self.mqtt_connected = mqtt.is_connected(hass)
        # One for all of the node's entities: they only read it.
        self.device_info = DeviceInfo(identifiers={(DOMAIN, node_id)})

    def _spawn_task(self, coro: Coroutine[Any, Any, None]) -> None:
        """A background send, tracked by Home Assistant and cancelled with the entry."""
        self.entry.async_create_task(self.hass, coro, "push config")

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
    def config(self) -> dict[str, Any]:
        """The node's configuration as kept in the entry's options."""
        return dict(self.entry.options)

    @callback
    def async_listen(
        self, change: Change, listener: Callable[[], None], key: str | None = None
    ) -> None:
        """Call listener on change (of peripheral key) until the entry unloads."""
        self.entry.async_on_unload(self.listen(change, listener, key))

    async def async_start(self) -> None:
        """Subscribe to the node's topics; released when the entry unloads."""
        self.listen(Change.ANNOUNCE, self._announced)
        self.listen(Change.CONFIG_STATE, self._update_config_issue)
        self.listen(Change.FAULTS, self._update_fault_issue)
        self.listen(Change.CONFIG, self._update_fault_issue)
        self._check_key_id()
        self.entry.async_on_unload(self.stop)
        await self.start()
        self.entry.async_on_unload(
            mqtt.async_subscribe_connection_status(self.hass, self._on_connection)
        )

    @callback
    def _on_connection(self, connected: bool) -> None:
        self.set_connected(connected)

    @callback
    def _announced(self) -> None:
        """A new announce: keep it in the entry, update the device, check key and safe mode."""
        announce = self.announce
        assert announce is not None
        self._check_key_id()
        self._update_safe_mode_issue()
        self.hass.config_entries.async_update_entry(
            self.entry, data={**self.entry.data, CONF_ANNOUNCE: announce.as_dict()}
        )
        self.async_update_device()

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
            suggested_area=self.entry.data.get(CONF_AREA),
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

    def _update_safe_mode_issue(self) -> None:
        reason = self.announce.safe_mode if self.announce else None
        async_set_issue(
            self.hass,
            safe_mode_issue_id(self.node_id),
            None if reason is None else "safe_mode",
            None if reason is None else {"name": self.name, "reason": reason},
        )

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

    @callback
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

    @callback
    def _update_fault_issue(self) -> None:
        """Name the devices that report errors in a repair; cleared once all read again."""
        faults = self.faults
        devices = "; ".join(
            f"{(self.peripheral(pid) or {}).get('name') or pid} ({error})"
            for pid, error in faults.items()
        )
        async_set_issue(
            self.hass,
            device_fault_issue_id(self.node_id),
            "device_fault" if faults else None,
            {"name": self.name, "devices": devices} if faults else None,
        )

    # --- sending -------------------------------------------------------------------------------

    async def async_push_config(self) -> None:
        """Publish the entry's configuration as the node's retained, signed config/set."""
        await self.push_config()

    async def async_config_updated(self) -> None:
        """The entry changed: update the device, push a new configuration, tell the entities."""
        self.async_update_device()
        await self.config_changed()

    async def async_command(self, cmd: str, **fields: Any) -> Reply:
        """Send a signed command and wait for the node's reply; HomeAssistantError if refused."""
        placeholders = {"name": self.name}
        try:
            return await self.command(cmd, const.REPLY_TIMEOUT, **fields)
        except NodeOffline as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="node_offline",
                translation_placeholders=placeholders,
            ) from err
        except NoReply as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="no_reply",
                translation_placeholders=placeholders,
            ) from err
        except CommandRefused as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="command_refused",
                translation_placeholders={**placeholders, "error": str(err)},
            ) from err
