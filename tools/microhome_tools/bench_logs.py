"""Benchmark: how much log ingestion delays Home Assistant's event loop.

The real `LogManager` (custom_components/microhome/logs.py) in a real Home Assistant core
gets `microhome/<id>/log` messages the way the MQTT integration hands them over, from N nodes
at a given total rate, with a full history per node, a live panel subscriber and the
debounced saves to disk. A probe task sleeps 5 ms at a time and records how late it wakes:
that lateness is the delay any other event handling would see.
"""

from __future__ import annotations

import asyncio
import json
import logging
import logging.handlers
import queue
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

from microhome_tools.repo import import_integration_from_repository

PROBE_INTERVAL = 0.005
TICK = 0.01  # messages due are handed over every 10 ms, like reads from the broker socket
BATCH = 10  # entries per message, as the firmware batches them
LEVEL_MIX = "IIIIIIIIDDWE"  # mostly info, some debug, warnings and errors (events)


@dataclass
class LogBenchResult:
    """What `measure_log_ingestion` found."""

    nodes: int
    entries_per_second: int
    seconds: float
    entries_ingested: int
    history_entries: int
    saves: int
    loop_delay_max_ms: float
    loop_delay_p99_ms: float
    loop_delay_median_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _payload(boot: int, first_seq: int, t_ms: int) -> bytes:
    entries = [
        {
            "seq": first_seq + i,
            "t": t_ms + i,
            "lvl": LEVEL_MIX[(first_seq + i) % len(LEVEL_MIX)],
            "src": "sensors",
            "msg": f"dht22 climate: 21.{(first_seq + i) % 10} C, 40.2 %RH, read {first_seq + i}",
        }
        for i in range(BATCH)
    ]
    return json.dumps({"boot": boot, "entries": entries}).encode()


async def _measure(
    nodes: int, entries_per_second: int, seconds: float, save_delay: float
) -> LogBenchResult:
    from custom_components.microhome import logs  # noqa: PLC0415

    # As in Home Assistant: records go through a queue to a logging thread.
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    node_logger = logging.getLogger(logs.NODE_LOGGER_PREFIX.rstrip("."))
    node_logger.propagate = False
    node_logger.setLevel(logging.DEBUG)
    node_logger.addHandler(logging.handlers.QueueHandler(records))
    listener = logging.handlers.QueueListener(records, logging.NullHandler())
    listener.start()
    try:
        return await _measure_with_logging(nodes, entries_per_second, seconds, save_delay)
    finally:
        listener.stop()


async def _measure_with_logging(
    nodes: int, entries_per_second: int, seconds: float, save_delay: float
) -> LogBenchResult:
    from homeassistant.components.mqtt.models import ReceiveMessage  # noqa: PLC0415
    from homeassistant.core import HomeAssistant  # noqa: PLC0415

    from custom_components.microhome import logs  # noqa: PLC0415
    from custom_components.microhome.protocol import ProtocolError, parse_log  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as config_dir:
        hass = HomeAssistant(config_dir)
        await hass.async_start()
        manager = logs.LogManager(hass, parse_log, (ProtocolError,), 5000)
        manager.save_delay = save_delay
        node_ids = [f"mh-bench{index:02d}" for index in range(nodes)]
        seqs = dict.fromkeys(node_ids, 0)

        def message(node_id: str) -> ReceiveMessage:
            seq = seqs[node_id]
            seqs[node_id] = seq + BATCH
            topic = f"microhome/{node_id}/log"
            return ReceiveMessage(topic, _payload(1, seq, seq * 10), 1, False, topic, time.time())

        # A full history first, as after a day of logging.
        for node_id in node_ids:
            for _ in range(manager.max_entries // BATCH):
                manager.async_handle_message(message(node_id))
        history = sum(len(node.entries) for node in manager.nodes.values())

        streamed = 0

        def on_records(records: list[logs.LogLine]) -> None:
            nonlocal streamed
            streamed += len(json.dumps([logs.record_as_dict(r) for r in records]))

        manager.async_stream(logs.LogStream(logs.LogFilter(), on_records, lambda _node: None))

        saves = 0
        original_snapshot = manager._node_snapshot

        def counting_snapshot(node: logs.NodeLog) -> dict[str, Any]:
            nonlocal saves
            saves += 1
            return original_snapshot(node)

        manager._node_snapshot = counting_snapshot  # type: ignore[method-assign]

        delays: list[float] = []
        done = asyncio.Event()

        async def probe() -> None:
            loop = asyncio.get_running_loop()
            while not done.is_set():
                start = loop.time()
                await asyncio.sleep(PROBE_INTERVAL)
                delays.append(loop.time() - start - PROBE_INTERVAL)

        async def load() -> int:
            loop = asyncio.get_running_loop()
            messages_per_second = entries_per_second / BATCH
            start = loop.time()
            sent = 0
            turn = 0
            while (elapsed := loop.time() - start) < seconds:
                due = int(elapsed * messages_per_second)
                while sent < due:
                    manager.async_handle_message(message(node_ids[turn % nodes]))
                    turn += 1
                    sent += 1
                await asyncio.sleep(TICK)
            return sent * BATCH

        probe_task = asyncio.create_task(probe())
        ingested = await load()
        done.set()
        await probe_task
        await hass.async_stop()

    delays_ms = sorted(delay * 1000 for delay in delays)
    return LogBenchResult(
        nodes=nodes,
        entries_per_second=entries_per_second,
        seconds=seconds,
        entries_ingested=ingested,
        history_entries=history,
        saves=saves,
        loop_delay_max_ms=round(delays_ms[-1], 2),
        loop_delay_p99_ms=round(delays_ms[int(len(delays_ms) * 0.99)], 2),
        loop_delay_median_ms=round(statistics.median(delays_ms), 2),
    )


def measure_log_ingestion(
    nodes: int = 50, entries_per_second: int = 5000, seconds: float = 10.0, save_delay: float = 3.0
) -> LogBenchResult:
    """Ingest `entries_per_second` log entries from `nodes` nodes for `seconds`; measure delay.

    The budget (issue 6): other event handling is never delayed by more than 50 ms.
    """
    import_integration_from_repository()
    return asyncio.run(_measure(nodes, entries_per_second, seconds, save_delay))


if __name__ == "__main__":
    print(json.dumps(measure_log_ingestion().as_dict(), indent=2))
