"""One MicroHome node's side of the protocol, without Home Assistant.

Topic routing, parsing (protocol.py), the `n` counter, reply matching, configuration bodies and
push tracking, and typed change listeners. MQTT is passed in as two callables, publish and
subscribe, as hatasmota's TasmotaMQTTClient takes them; the Home Assistant adapter
(node.py) adds the device registry, repairs and entities.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any, Protocol

from . import catalogue, protocol
from .protocol import (
    Announce,
    ConfigState,
    OtaStatus,
    PeripheralState,
    ProtocolError,
    Reply,
    Telemetry,
)

_LOGGER = logging.getLogger(__name__)


class Message(Protocol):
    """An MQTT message as the subscribe callable delivers it."""

    @property
    def topic(self) -> str:
        """The topic."""

    @property
    def payload(self) -> str | bytes | bytearray:
        """The payload."""

    @property
    def retain(self) -> bool:
        """Whether it is a retained message."""


type Publish = Callable[[str, str, int, bool], Awaitable[None]]
type Subscribe = Callable[[str, Callable[[Message], None]], Awaitable[Callable[[], None]]]
type Listener = Callable[[], None]
type Spawn = Callable[[Coroutine[Any, Any, None]], None]
type Handler = Callable[[Message], None]

# The topics of a node the client follows, by suffix of `microhome/<id>/`.
NODE_TOPICS = (
    "status",
    "announce",
    "state/+",
    "telemetry",
    "config/state",
    "ota/status",
    "reply",
    "log",
)
# The NodeClient method that handles each of them.
_HANDLERS = {
    "status": "_on_status",
    "announce": "_on_announce",
    "state/+": "_on_state",
    "telemetry": "_on_telemetry",
    "config/state": "_on_config_state",
    "ota/status": "_on_ota_status",
    "reply": "_on_reply",
    "log": "_on_log",
}
# Subscribed at QoS 1; the others at QoS 0: their last value is retained, and the broker
# queues QoS 1 messages for a busy subscriber only up to a limit (mosquitto: 1,000), then drops
# them, where QoS 0 ones go straight into the subscriber's socket.
QOS1_TOPICS = frozenset({"reply"})
# The retained ones (and `state/<id>`): a node that starts after they came gets the last of each.
_RETAINED = frozenset({"status", "announce", "config/state", "ota/status"})


@dataclass(frozen=True, slots=True)
class KeptMessage:
    """The last message on a retained topic, delivered again to a node that starts later."""

    topic: str
    payload: str | bytes | bytearray
    retain: bool = True


def _route(topic: str) -> tuple[str, str, bool]:
    """The node id, the subscribed topic that matches topic and whether it is retained."""
    prefix, _, rest = topic.partition("/")
    node_id, _, suffix = rest.partition("/")
    kind, _, peripheral_id = suffix.partition("/")
    if kind == "state" and peripheral_id and "/" not in peripheral_id:
        return node_id, f"{prefix}/{node_id}/state/+", True
    return node_id, topic, suffix in _RETAINED


class Change(StrEnum):
    """What of a node changed; listeners subscribe by change and, for STATE, peripheral id."""

    AVAILABILITY = "availability"
    ANNOUNCE = "announce"
    TELEMETRY = "telemetry"
    CONFIG = "config"
    CONFIG_STATE = "config_state"
    OTA = "ota"
    OTA_JOB = "ota_job"
    STATE = "state"
    FAULTS = "faults"  # which peripherals report an error (a device that does not answer)


class CommandError(Exception):
    """A command that did not succeed."""


class NodeOffline(CommandError):
    """The node is offline or the broker unreachable: nothing was sent."""


class NoReply(CommandError):
    """The node did not answer in time."""


class CommandRefused(CommandError):
    """The node answered ok: false; the message is its error."""


class Router:
    """Every node's topics on one set of wildcard subscriptions (`microhome/+/<suffix>`),
    dispatched by topic; keeps the last message of each retained topic per node."""

    # What the kept messages may take, counting each at its payload plus KEPT_OVERHEAD: a
    # thousand-node fleet's retained messages fit many times over; a broker client inventing
    # node or peripheral ids cannot make it grow past this.
    KEPT_BYTES_MAX = 16 * 1024 * 1024
    KEPT_OVERHEAD = 256

    def __init__(self) -> None:
        """Start with no handlers and nothing kept."""
        self._handlers: dict[str, list[Handler]] = {}
        self._kept: dict[str, dict[str, KeptMessage]] = {}
        self.kept_bytes = 0
        self._full_warned = False

    @property
    def idle(self) -> bool:
        """Whether no handler is subscribed."""
        return not self._handlers

    def clear(self) -> None:
        """Forget the kept messages (the subscriptions they came on went away)."""
        self._kept.clear()
        self.kept_bytes = 0

    def dispatch(self, msg: Message) -> None:
        """Keep msg if its topic is retained, and hand it to the handlers of its topic."""
        node_id, key, retained = _route(msg.topic)
        if retained and protocol.is_node_id(node_id):
            self._keep(node_id, msg)
        for handler in tuple(self._handlers.get(key, ())):
            handler(msg)

    def _keep(self, node_id: str, msg: Message) -> None:
        """Keep msg as its topic's last message (an empty one forgets it) within
        KEPT_BYTES_MAX; past that, nothing new is kept and a warning says so once."""
        kept = self._kept.get(node_id, {})
        if (old := kept.pop(msg.topic, None)) is not None:
            self.kept_bytes -= len(old.payload) + self.KEPT_OVERHEAD
        cost = len(msg.payload) + self.KEPT_OVERHEAD
        if msg.payload and len(msg.payload) <= protocol.MAX_PAYLOAD_BYTES:
            if self.kept_bytes + cost <= self.KEPT_BYTES_MAX:
                kept[msg.topic] = KeptMessage(msg.topic, msg.payload)
                self.kept_bytes += cost
            elif not self._full_warned:
                self._full_warned = True
                _LOGGER.warning(
                    "Retained MicroHome messages take more than %d bytes: a node set up from"
                    " now on waits for its next messages instead (%s)",
                    self.KEPT_BYTES_MAX,
                    protocol.describe(msg.topic, 120),
                )
        if kept:
            self._kept[node_id] = kept
        else:
            self._kept.pop(node_id, None)

    def subscribe(self, topic: str, handler: Handler) -> Callable[[], None]:
        """Hand the messages of topic (`microhome/<id>/<suffix>`, `state/+` for every state)
        to handler, starting with the kept ones; returns the unsubscribe."""
        self._handlers.setdefault(topic, []).append(handler)
        node_id = topic.split("/", 2)[1]
        for kept in tuple(self._kept.get(node_id, {}).values()):
            if _route(kept.topic)[1] == topic:
                handler(kept)
        return partial(self.unsubscribe, topic, handler)

    def unsubscribe(self, topic: str, handler: Handler) -> None:
        """No longer hand the messages of topic to handler."""
        handlers = self._handlers.get(topic, [])
        if handler in handlers:
            handlers.remove(handler)
        if not handlers:
            self._handlers.pop(topic, None)


class _Removal:
    """Removes one listener from the lists it is in (once; again does nothing)."""

    __slots__ = ("_item", "_lists")

    def __init__(self, lists: tuple[list[Listener], ...], item: Listener) -> None:
        self._lists = lists
        self._item = item

    def __call__(self) -> None:
        for items in self._lists:
            if self._item in items:
                items.remove(self._item)


class NodeClient:
    """One node: its subscriptions, last known state, commands and configuration."""

    def __init__(
        self,
        node_id: str,
        key: bytes,
        publish: Publish,
        subscribe: Subscribe,
        *,
        config: Callable[[], Mapping[str, Any]],
        last_n: dict[str, int],
        announce: Announce | None = None,
        spawn: Spawn | None = None,
    ) -> None:
        """Set up the client.

        config returns the node's stored configuration; last_n holds the last `n` sent to each
        node (shared, so that `n` never goes back); spawn runs a background send (default: an
        asyncio task whose failure is logged).
        """
        self.node_id = node_id
        self.key = key
        self.key_id = protocol.key_id(key)
        self._publish = publish
        self._subscribe = subscribe
        self._config = config
        self._last_n = last_n
        self._spawn = spawn or _spawn
        self.online = False
        self.mqtt_connected = False
        self.announce = announce
        self.telemetry: Telemetry | None = None
        self.config_state: ConfigState | None = None
        self.ota_status: OtaStatus | None = None
        self.states: dict[str, PeripheralState] = {}
        self.last_seen: datetime | None = None
        self.pushed_version = self.config_version
        self._replies: dict[int, asyncio.Future[Reply]] = {}
        self._listeners: dict[tuple[Change, str | None], list[Listener]] = {}
        self._warned: set[str] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._push_again: asyncio.TimerHandle | None = None

    # --- what the node's state is --------------------------------------------------------------

    @property
    def name(self) -> str:
        """The node's name as its user knows it; its id here."""
        return self.node_id

    @property
    def available(self) -> bool:
        """Whether the node is online and the broker reachable."""
        return self.online and self.mqtt_connected

    @property
    def config_version(self) -> int:
        """The version of the stored configuration (0: never set)."""
        return int(self._config().get("version", 0))

    @property
    def peripherals(self) -> list[dict[str, Any]]:
        """The configured peripherals (the configuration's `sensors`)."""
        return list(self._config().get("sensors", []))

    def shown_entities(self) -> Iterator[tuple[dict[str, Any], catalogue.Entity]]:
        """Each configured peripheral with each entity the catalogue gives it."""
        for peripheral in self.peripherals:
            kind = catalogue.TYPES.get(peripheral["type"])
            for spec in kind.entities if kind is not None else ():
                if catalogue.shows(spec, peripheral):
                    yield peripheral, spec

    def peripheral(self, peripheral_id: str) -> dict[str, Any] | None:
        """One configured peripheral by id."""
        return next((p for p in self.peripherals if p["id"] == peripheral_id), None)

    @property
    def faults(self) -> dict[str, str]:
        """The configured peripherals whose last state is an error, with that error."""
        return {
            p["id"]: error
            for p in self.peripherals
            if (state := self.states.get(p["id"])) is not None and (error := state.error)
        }

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

    # --- listeners -----------------------------------------------------------------------------

    def listen(self, change: Change, listener: Listener, key: str | None = None) -> Listener:
        """Call listener when change happens (for STATE: to peripheral key); returns remove."""
        return self.listen_to(((change, key),), listener)

    def listen_to(
        self, changes: Iterable[tuple[Change, str | None]], listener: Listener
    ) -> Listener:
        """Call listener when any of changes (change, key) happens; returns remove, of all:
        one for all of an entity's, which a thousand nodes have tens of thousands of."""
        lists = tuple(self._listeners.setdefault(change, []) for change in changes)
        for listeners in lists:
            listeners.append(listener)
        return _Removal(lists, listener)

    def notify(self, change: Change, key: str | None = None) -> None:
        """Tell the listeners of change (and of key) that it happened."""
        for listener in list(self._listeners.get((change, key), ())):
            listener()

    # --- subscriptions -------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe to the node's topics, all with one handler (_on_message)."""
        handler = self._on_message
        for suffix in NODE_TOPICS:
            self._unsubscribe.append(
                await self._subscribe(protocol.topic(self.node_id, suffix), handler)
            )

    def stop(self) -> None:
        """Unsubscribe and give up waiting for replies."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._push_again is not None:
            self._push_again.cancel()
            self._push_again = None
        for future in self._replies.values():
            future.cancel()
        self._replies.clear()

    def set_connected(self, connected: bool) -> None:
        """The broker connection came or went."""
        self.mqtt_connected = connected
        self.notify(Change.AVAILABILITY)

    def _on_message(self, msg: Message) -> None:
        """The handler of msg's kind of topic (one of those subscribed), with size check and
        last_seen; protocol errors are logged instead of raised."""
        suffix = msg.topic.split("/", 2)[-1]
        kind = "state/+" if suffix.startswith("state/") else suffix
        name = _HANDLERS[kind]
        if not msg.retain:
            self.last_seen = datetime.now(UTC)
        try:
            protocol.check_size(msg.payload)
            getattr(self, name)(msg)
        except ProtocolError as err:
            self._drop(kind, msg.topic, str(err))

    def _drop(self, kind: str, topic: str, reason: str) -> None:
        """Log a dropped payload: a warning the first time per topic kind, then debug."""
        level = logging.DEBUG if kind in self._warned else logging.WARNING
        self._warned.add(kind)
        _LOGGER.log(
            level,
            "Dropped a payload from node %s on %s: %s",
            self.node_id,
            protocol.describe(topic, 120),
            reason,
        )

    def _on_status(self, msg: Message) -> None:
        online = protocol.parse_status(msg.payload)
        if online != self.online:
            self.online = online
            state = "online" if online else "offline"
            _LOGGER.info("Node %s (%s) is %s", self.node_id, self.name, state)
            self.notify(Change.AVAILABILITY)

    def _on_announce(self, msg: Message) -> None:
        if not msg.payload:
            return  # a cleared retained announce
        announce = protocol.parse_announce(msg.payload, self.node_id)
        changed = announce != self.announce
        self.announce = announce
        if changed:
            self.notify(Change.ANNOUNCE)
        if announce.cfg < self.config_version and not self.config_rejected:
            _LOGGER.info(
                "Node %s runs configuration %s, sending %s again",
                self.node_id,
                announce.cfg,
                self.config_version,
            )
            self._spawn(self.push_config())
            self._push_again_past_mark()

    def _push_again_past_mark(self) -> None:
        """Send the configuration once more when no `n` sent so far can be refused any longer.

        A node back from a power cut refuses every `n` up to a minute past the last one it
        accepted, so a configuration sent within that minute (retained, or just now) is dropped.
        """
        if self._push_again is not None:
            self._push_again.cancel()
        past_mark = (self._last_n.get(self.node_id, 0) + protocol.N_RESERVED_AHEAD) / 1000

        def push() -> None:
            self._push_again = None
            if self.available and self.config_pending and not self.config_rejected:
                self._spawn(self.push_config())

        delay = max(past_mark - time.time(), 0) + 1
        self._push_again = asyncio.get_running_loop().call_later(delay, push)

    def _on_state(self, msg: Message) -> None:
        peripheral_id = msg.topic.rsplit("/", 1)[-1]
        if not msg.payload:
            return  # the node emptied the retained state of a removed peripheral
        peripheral = self.peripheral(peripheral_id)
        if peripheral is None:
            raise ProtocolError(f"unknown sensor id {protocol.describe(peripheral_id)}")
        before = self.states.get(peripheral_id)
        state = self.states[peripheral_id] = protocol.parse_state(
            peripheral["type"], msg.payload, retained=msg.retain
        )
        self.notify(Change.STATE, peripheral_id)
        if (before.error if before else None) != state.error:
            name = peripheral.get("name") or peripheral_id
            if state.error is None:
                _LOGGER.info("Node %s: %s reads again", self.node_id, name)
            elif before is None or before.error is None:
                _LOGGER.warning("Node %s: %s reports an error: %s", self.node_id, name, state.error)
            self.notify(Change.FAULTS)

    def _on_telemetry(self, msg: Message) -> None:
        self.telemetry = protocol.parse_telemetry(msg.payload)
        self.notify(Change.TELEMETRY)

    def _on_config_state(self, msg: Message) -> None:
        if not msg.payload:
            return
        self.config_state = protocol.parse_config_state(msg.payload)
        self.notify(Change.CONFIG_STATE)

    def _on_ota_status(self, msg: Message) -> None:
        if not msg.payload:
            return
        self.ota_status = protocol.parse_ota_status(msg.payload)
        self.notify(Change.OTA)

    def _on_reply(self, msg: Message) -> None:
        reply = protocol.parse_reply(msg.payload)
        future = self._replies.get(reply.n)
        if future is None:
            _LOGGER.debug("Node %s answered command %s nobody waits for", self.node_id, reply.n)
        elif not future.done():
            future.set_result(reply)

    def _on_log(self, msg: Message) -> None:
        """Log lines are stored by the log store (logs.py); here they only count as seen."""

    # --- sending -------------------------------------------------------------------------------

    def next_n(self) -> int:
        """Wall-clock milliseconds, but always more than the last `n` sent to this node."""
        n = max(time.time_ns() // 1_000_000, self._last_n.get(self.node_id, 0) + 1)
        self._last_n[self.node_id] = n
        return n

    async def push_config(self) -> None:
        """Publish the stored configuration as the node's retained, signed config/set."""
        if self.config_version == 0:
            return
        config_topic = protocol.topic(self.node_id, "config/set")
        body = protocol.config_body(dict(self._config()), self.next_n())
        await self._publish(
            config_topic, protocol.signed_payload(self.key, config_topic, body), 1, True
        )
        self.pushed_version = self.config_version
        _LOGGER.debug("Sent configuration %s to node %s", self.pushed_version, self.node_id)

    async def config_changed(self) -> None:
        """The stored configuration changed: push it if its version is new, tell listeners."""
        if self.config_version != self.pushed_version:
            await self.push_config()
        self.notify(Change.CONFIG)

    async def command(self, cmd: str, reply_within: float, **fields: Any) -> Reply:
        """Send a signed command and wait reply_within seconds for the node's reply;
        CommandError if it fails."""
        if not self.available:
            raise NodeOffline
        n = self.next_n()
        cmd_topic = protocol.topic(self.node_id, "cmd")
        body = protocol.command_body(n, cmd, **fields)
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._replies[n] = future
        try:
            await self._publish(
                cmd_topic, protocol.signed_payload(self.key, cmd_topic, body), 1, False
            )
            async with asyncio.timeout(reply_within):
                reply = await future
        except TimeoutError as err:
            raise NoReply from err
        finally:
            self._replies.pop(n, None)
        if not reply.ok:
            raise CommandRefused(reply.error or "-")
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
            "states": {
                key: {**state.values, "error": state.error} if state.error else state.values
                for key, state in self.states.items()
            },
            "peripherals": [_peripheral_diagnostics(p) for p in self.peripherals],
            "key_id": self.key_id,
        }


def _peripheral_diagnostics(peripheral: dict[str, Any]) -> dict[str, Any]:
    """A configured peripheral as the catalogue describes it."""
    kind = catalogue.TYPES.get(peripheral["type"])
    if kind is None:
        return {"id": peripheral["id"], "type": peripheral["type"], "known": False}
    return {
        "id": peripheral["id"],
        "type": kind.key,
        "type_name": kind.name,
        **protocol.attachment(peripheral),
        "role": kind.role,
        "params": {p.key: peripheral.get(p.key, p.default) for p in kind.params},
        "entities": [e.platform + (f".{e.key}" if e.key else "") for e in kind.entities],
    }


def _asdict(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return {name: getattr(value, name) for name in value.__dataclass_fields__}


def _spawn(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.ensure_future(coro).add_done_callback(_log_failure)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        _LOGGER.warning("Sending to a node failed: %s", error)
