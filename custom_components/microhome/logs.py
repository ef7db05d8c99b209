"""Node logs: ingestion from MQTT, bounded per-node history, persistence and live streams."""

from __future__ import annotations

import heapq
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from homeassistant.components import mqtt
from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
    ConfigEntryState,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .protocol import (
    LOG_LEVEL_NAMES,
    LOG_LEVELS,
    LOG_MESSAGE_MAX,
    LOG_SOURCE_MAX,
    LogBatch,
    ProtocolError,
    describe,
    escape_text,
    is_node_id,
    parse_log,
)
from .settings import SettingsManager

_LOGGER = logging.getLogger(__name__)

LOG_TOPIC = "microhome/+/log"
EVENT_LOG = "microhome_log"
NODE_LOGGER_PREFIX = "custom_components.microhome.node."
STORAGE_KEY = f"{DOMAIN}.logs"
STORAGE_VERSION = 1
SAVE_DELAY = 15.0

LEVEL_RANK = {level: rank for rank, level in enumerate(LOG_LEVELS)}
EVENT_RANK = LEVEL_RANK["W"]
PYTHON_LEVELS = {
    "D": logging.DEBUG,
    "I": logging.INFO,
    "W": logging.WARNING,
    "E": logging.ERROR,
    "C": logging.CRITICAL,
}

KIND_LOG = "log"
KIND_BOOT = "boot"
KIND_GAP = "gap"
MARKER_SOURCE = "microhome"


class LogLine(NamedTuple):
    """One history line. A tuple underneath: ingestion and store snapshots stay cheap."""

    id: int
    time: float
    node: str
    boot: int
    seq: int
    t: int
    level: str
    source: str
    message: str
    kind: str

    def without_node(self) -> tuple[Any, ...]:
        """The line as stored in its node's store (the node is the store's)."""
        return (*self[:2], *self[3:])


DATA_LOGS: HassKey[LogManager] = HassKey(f"{DOMAIN}_logs")


type LogParser = Callable[[str | bytes | bytearray], LogBatch]


@dataclass(slots=True)
class LogFilter:
    """Which lines a query or a stream wants."""

    nodes: frozenset[str] | None = None
    min_level: str = "D"
    text: str = ""
    since: float | None = None
    until: float | None = None
    _rank: int = field(init=False, default=0)
    _needle: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self._rank = LEVEL_RANK[self.min_level]
        self._needle = self.text.casefold()

    def matches(self, record: LogLine) -> bool:
        """True if `record` passes every filter."""
        if self.nodes is not None and record.node not in self.nodes:
            return False
        if LEVEL_RANK[record.level] < self._rank:
            return False
        if self.since is not None and record.time < self.since:
            return False
        if self.until is not None and record.time > self.until:
            return False
        needle = self._needle
        return not needle or (
            needle in record.message.casefold() or needle in record.source.casefold()
        )


@dataclass(slots=True)
class NodeLog:
    """One node's history and the state needed to count gaps and mark reboots."""

    node_id: str
    entries: deque[LogLine]
    boot: int | None = None
    next_seq: int | None = None
    lost: int = 0
    last_seen: float | None = None
    boot_time: float | None = None
    save_pending: bool = False
    logger: logging.Logger = field(init=False)

    def __post_init__(self) -> None:
        self.logger = logging.getLogger(NODE_LOGGER_PREFIX + self.node_id)


@dataclass(slots=True)
class LogStream:
    """A live subscriber: gets matching new lines and clears."""

    log_filter: LogFilter
    on_records: Callable[[list[LogLine]], None]
    on_clear: Callable[[str | None], None]


def record_as_dict(record: LogLine) -> dict[str, Any]:
    """The websocket form of one history line."""
    return record._asdict() | {"level_name": LOG_LEVEL_NAMES[record.level]}


class LogManager:
    """All nodes' log histories, fed from `microhome/<id>/log`."""

    def __init__(
        self,
        hass: HomeAssistant,
        parse: LogParser,
        parse_errors: tuple[type[Exception], ...],
        max_entries: int,
    ) -> None:
        self.hass = hass
        self._parse = parse
        self._parse_errors = parse_errors
        self.max_entries = max_entries
        self.save_delay = SAVE_DELAY
        self.nodes: dict[str, NodeLog] = {}
        self._next_id = 1
        self._streams: list[LogStream] = []
        self._warned: set[str] = set()
        # One small index of node ids, and one store per node, so that a write (its JSON is
        # made in a worker thread, which holds the GIL meanwhile) stays short.
        self._index: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, STORAGE_KEY)
        self._stores: dict[str, Store[dict[str, Any]]] = {}

    def _store(self, node_id: str) -> Store[dict[str, Any]]:
        store = self._stores.get(node_id)
        if store is None:
            store = self._stores[node_id] = Store(
                self.hass,
                STORAGE_VERSION,
                f"{STORAGE_KEY}.{node_id}",
            )
        return store

    async def async_load(self) -> None:
        """Restore the histories saved before the last shutdown."""
        index = await self._index.async_load()
        node_ids = index.get("nodes") if isinstance(index, dict) else None
        if not isinstance(node_ids, list):
            return
        for node_id in node_ids:
            if not isinstance(node_id, str) or not is_node_id(node_id):
                continue
            data = await self._store(node_id).async_load()
            if not data:
                continue
            try:
                self._restore(node_id, data)
            except KeyError, TypeError, ValueError, IndexError:
                _LOGGER.warning("Stored MicroHome logs of %s are unreadable; dropped", node_id)
                self.nodes.pop(node_id, None)
        ids = [node.entries[-1].id for node in self.nodes.values() if node.entries]
        self._next_id = max(ids, default=0) + 1

    def _restore(self, node_id: str, saved: dict[str, Any]) -> None:
        node = NodeLog(node_id, deque(maxlen=self.max_entries))
        node.boot = None if saved["boot"] is None else int(saved["boot"])
        node.next_seq = None if saved["next_seq"] is None else int(saved["next_seq"])
        node.lost = int(saved["lost"])
        node.last_seen = saved["last_seen"]
        node.boot_time = saved["boot_time"]
        for raw in saved["entries"]:
            record = LogLine(
                int(raw[0]),
                float(raw[1]),
                node_id,
                int(raw[2]),
                int(raw[3]),
                int(raw[4]),
                str(raw[5]),
                str(raw[6]),
                str(raw[7]),
                str(raw[8]),
            )
            if record.level not in LEVEL_RANK:
                raise ValueError(record.level)
            node.entries.append(record)
        self.nodes[node_id] = node

    def _node_data(self, node: NodeLog) -> dict[str, Any]:
        # Called by Store in the event loop, also at the final write when Home Assistant stops.
        data = self._node_snapshot(node)
        data["entries"] = [record.without_node() for record in data["entries"]]
        return data

    @callback
    def _node_snapshot(self, node: NodeLog) -> dict[str, Any]:
        node.save_pending = False
        return {
            "boot": node.boot,
            "next_seq": node.next_seq,
            "lost": node.lost,
            "last_seen": node.last_seen,
            "boot_time": node.boot_time,
            "entries": list(node.entries),
        }

    def _schedule_save(self, node: NodeLog) -> None:
        # A throttle, not a debounce: a node that logs all the time is still saved every
        # `save_delay` seconds.
        if node.save_pending:
            return
        node.save_pending = True
        self._store(node.node_id).async_delay_save(lambda: self._node_data(node), self.save_delay)

    def _node(self, node_id: str) -> NodeLog:
        node = self.nodes.get(node_id)
        if node is None:
            node = self.nodes[node_id] = NodeLog(node_id, deque(maxlen=self.max_entries))
            node_ids = list(self.nodes)
            self._index.async_delay_save(lambda: {"nodes": node_ids}, 1)
        return node

    @callback
    def async_set_max_entries(self, max_entries: int) -> None:
        """Change the history size; the newest lines are kept."""
        if max_entries == self.max_entries:
            return
        self.max_entries = max_entries
        for node in self.nodes.values():
            node.entries = deque(node.entries, maxlen=max_entries)
            self._schedule_save(node)

    @callback
    def async_handle_message(self, msg: mqtt.ReceiveMessage) -> None:
        """MQTT callback for `microhome/<id>/log`."""
        parts = msg.topic.split("/")
        node_id = parts[1] if len(parts) == 3 else ""
        if not is_node_id(node_id):
            self._drop("", "invalid node id in topic " + describe(msg.topic, 120))
            return
        try:
            batch = self._parse(msg.payload)
        except self._parse_errors as err:
            self._drop(node_id, str(err))
            return
        self.ingest(node_id, batch, time.time())

    def _drop(self, node_id: str, reason: str) -> None:
        """Log a dropped payload: a warning the first time per node, then debug lines."""
        source = node_id or "an invalid topic"
        if node_id in self._warned:
            _LOGGER.debug("Dropped malformed log payload from %s: %s", source, reason)
            return
        self._warned.add(node_id)
        _LOGGER.warning(
            "Dropped malformed log payload from %s: %s (further ones are logged at debug level)",
            source,
            reason,
        )

    @callback
    def ingest(self, node_id: str, batch: LogBatch, now: float) -> list[LogLine]:
        """Add one parsed batch to `node_id`'s history; returns the new lines."""
        node = self._node(node_id)
        node.last_seen = now
        new: list[LogLine] = []
        entries = batch.entries
        boot = batch.boot
        # Entries carry milliseconds since boot; the boot's wall-clock time is estimated from
        # the batch that arrived with the least delay.
        estimate = now - max((entry.t for entry in entries), default=0) / 1000
        if boot != node.boot:
            if node.boot is not None:
                node.next_seq = 0
            node.boot = boot
            node.boot_time = None
            new.append(self._marker(node, estimate, KIND_BOOT, "I", f"boot {boot}"))
        if not entries:
            self._publish(node, new)
            return new
        if node.boot_time is None or estimate < node.boot_time:
            node.boot_time = estimate
        boot_time = node.boot_time
        logger = node.logger
        bus_fire = self.hass.bus.async_fire
        for entry in entries:
            seq = entry.seq
            expected = node.next_seq
            if expected is not None and seq != expected:
                if seq < expected:
                    continue  # a re-delivered line
                node.lost += seq - expected
                gap_time = min(boot_time + entry.t / 1000, now)
                new.append(
                    self._marker(node, gap_time, KIND_GAP, "W", f"{seq - expected} log lines lost")
                )
            node.next_seq = seq + 1
            level = entry.lvl
            # Node text reaches HA's log, events and the store only as printable text: a
            # newline cannot forge a log line, a lone surrogate cannot break the store.
            source = escape_text(entry.src, LOG_SOURCE_MAX)
            message = escape_text(entry.msg, LOG_MESSAGE_MAX)
            record = LogLine(
                self._next_id,
                min(boot_time + entry.t / 1000, now),
                node_id,
                boot,
                seq,
                entry.t,
                level,
                source,
                message,
                KIND_LOG,
            )
            self._next_id += 1
            new.append(record)
            logger.log(PYTHON_LEVELS[level], "%s: %s", source, message)
            if LEVEL_RANK[level] >= EVENT_RANK:
                bus_fire(
                    EVENT_LOG,
                    {
                        "node_id": node_id,
                        "level": level,
                        "source": source,
                        "message": message,
                    },
                )
        self._publish(node, new)
        return new

    def _marker(self, node: NodeLog, now: float, kind: str, level: str, message: str) -> LogLine:
        record = LogLine(
            self._next_id,
            now,
            node.node_id,
            node.boot if node.boot is not None else 0,
            -1,
            0,
            level,
            MARKER_SOURCE,
            message,
            kind,
        )
        self._next_id += 1
        return record

    def _publish(self, node: NodeLog, new: list[LogLine]) -> None:
        if not new:
            return
        node.entries.extend(new)
        for stream in self._streams:
            matching = [record for record in new if stream.log_filter.matches(record)]
            if matching:
                stream.on_records(matching)
        self._schedule_save(node)

    def query(
        self, log_filter: LogFilter, limit: int, before: int | None = None
    ) -> tuple[list[LogLine], bool]:
        """Matching lines, newest first, older than id `before`; and whether more exist."""
        found: list[LogLine] = []
        for record in self._newest_first(log_filter.nodes):
            if before is not None and record.id >= before:
                continue
            if log_filter.matches(record):
                if len(found) == limit:
                    return found, True
                found.append(record)
        return found, False

    def _newest_first(self, nodes: Iterable[str] | None) -> Iterator[LogLine]:
        selected = (
            self.nodes.values()
            if nodes is None
            else [self.nodes[node_id] for node_id in nodes if node_id in self.nodes]
        )
        return heapq.merge(
            *(reversed(node.entries) for node in selected),
            key=lambda record: record.id,
            reverse=True,
        )

    @callback
    def async_stream(self, stream: LogStream) -> CALLBACK_TYPE:
        """Send new matching lines to `stream` until the returned callback is called."""
        self._streams.append(stream)

        @callback
        def remove() -> None:
            if stream in self._streams:
                self._streams.remove(stream)

        return remove

    @callback
    def async_clear(self, node_id: str | None = None) -> None:
        """Forget the history of one node, or of all nodes."""
        targets = self.nodes.values() if node_id is None else [self.nodes.get(node_id)]
        for node in targets:
            if node is not None:
                node.entries.clear()
                node.lost = 0
                self._schedule_save(node)
        for stream in self._streams:
            stream.on_clear(node_id)


class _MqttTracker:
    """Keeps `microhome/+/log` subscribed whenever the MQTT integration is loaded."""

    def __init__(self, hass: HomeAssistant, manager: LogManager) -> None:
        self.hass = hass
        self.manager = manager
        self.unsubscribe: CALLBACK_TYPE | None = None
        self.subscribing = False

    @callback
    def async_start(self) -> None:
        async_dispatcher_connect(self.hass, SIGNAL_CONFIG_ENTRY_CHANGED, self._changed)
        self._update()

    @callback
    def _changed(self, change: ConfigEntryChange, entry: ConfigEntry) -> None:
        if entry.domain == mqtt.DOMAIN:
            self._update()

    @callback
    def _update(self) -> None:
        loaded = any(
            entry.state is ConfigEntryState.LOADED
            for entry in self.hass.config_entries.async_entries(mqtt.DOMAIN)
        )
        if not loaded:
            self.unsubscribe = None  # the MQTT client went away with its subscriptions
        elif self.unsubscribe is None and not self.subscribing:
            self.subscribing = True
            self.hass.async_create_task(self._async_subscribe(), eager_start=True)

    async def _async_subscribe(self) -> None:
        try:
            self.unsubscribe = await mqtt.async_subscribe(
                self.hass, LOG_TOPIC, self.manager.async_handle_message, qos=1, encoding=None
            )
        except HomeAssistantError as err:
            _LOGGER.warning("Could not subscribe to %s: %s", LOG_TOPIC, err)
        finally:
            self.subscribing = False


async def async_setup_logs(hass: HomeAssistant, settings: SettingsManager) -> None:
    """Set up log ingestion: the histories, their size from settings, the MQTT subscription."""
    manager = LogManager(hass, parse_log, (ProtocolError,), settings.stored.log_history)
    await manager.async_load()
    hass.data[DATA_LOGS] = manager
    settings.async_listen(lambda stored: manager.async_set_max_entries(stored.log_history))
    _MqttTracker(hass, manager).async_start()
