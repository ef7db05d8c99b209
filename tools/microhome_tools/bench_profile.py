"""`microhome bench --profile FILE`: where MicroHome's memory and time per added node go.

The same Home Assistant, broker and stand-ins as the scale part. For each side, N nodes are
added once under tracemalloc (allocations still alive afterwards, grouped by the line that made
them) and cProfile (the Home Assistant thread only), and the objects each side leaves per node
are counted: entities, config entries, entity platforms, MQTT subscriptions (simple and
wildcard), dispatcher connections. Written as text to FILE; not timed (profiling slows
everything).
"""

from __future__ import annotations

import cProfile
import gc
import io
import pstats
import tracemalloc
from pathlib import Path

from microhome_tools.bench_ha import Bench

TOP = 30


def counts(bench: Bench) -> dict[str, int]:
    """Objects in Home Assistant that grow with nodes."""
    from homeassistant.components.mqtt.models import DATA_MQTT  # noqa: PLC0415
    from homeassistant.helpers import entity_registry as er  # noqa: PLC0415
    from homeassistant.helpers.dispatcher import DATA_DISPATCHER  # noqa: PLC0415
    from homeassistant.helpers.entity_platform import DATA_ENTITY_PLATFORM  # noqa: PLC0415

    hass = bench.hass
    client = hass.data[DATA_MQTT].client
    registry = er.async_get(hass)
    dispatcher = hass.data.get(DATA_DISPATCHER, {})
    platforms = hass.data.get(DATA_ENTITY_PLATFORM, {})
    return {
        "entities_microhome": sum(
            1 for e in registry.entities.values() if e.platform == "microhome"
        ),
        "entities_mqtt": sum(1 for e in registry.entities.values() if e.platform == "mqtt"),
        "config_entries_microhome": len(hass.config_entries.async_entries("microhome")),
        "entity_platforms_microhome": len(platforms.get("microhome", [])),
        "entity_platforms_mqtt": len(platforms.get("mqtt", [])),
        "mqtt_simple_subscriptions": sum(len(s) for s in client._simple_subscriptions.values()),
        "mqtt_wildcard_subscriptions": len(client._wildcard_subscriptions),
        "mqtt_matching_cache_entries": client._matching_subscriptions.cache_info().currsize,
        "dispatcher_signals": len(dispatcher),
        "dispatcher_connections": sum(len(targets) for targets in dispatcher.values()),
    }


def delta(after: dict[str, int], before: dict[str, int], nodes: int) -> list[str]:
    return [
        f"  {key}: {after[key] - before[key]} ({(after[key] - before[key]) / nodes:.2f} per node)"
        for key in after
    ]


async def profile_side(bench: Bench, side: str, ids: list[str]) -> list[str]:
    before = counts(bench)
    gc.collect()
    tracemalloc.start(8)
    first = tracemalloc.take_snapshot()
    profiler = cProfile.Profile()
    profiler.enable()
    if side == "microhome":
        seconds, not_live = await bench.add_microhome(ids, 120 + len(ids) * 2.0)
    else:
        seconds, not_live = await bench.add_peer(ids, 120 + len(ids) * 2.0)
    await bench.hass.async_block_till_done()
    profiler.disable()
    gc.collect()
    second = tracemalloc.take_snapshot()
    tracemalloc.stop()
    after = counts(bench)
    nodes = len(ids)
    stats = second.compare_to(first, "lineno")
    total = sum(stat.size_diff for stat in stats)
    lines = [
        f"## {side}: {nodes} nodes added in {seconds:.1f} s (under profiling), "
        f"{len(not_live)} not live then",
        "",
        f"Python allocations still alive after adding: {total / 1024:.0f} KB, "
        f"{total / nodes / 1024:.1f} KB per node",
        "",
        "Objects per node:",
        *delta(after, before, nodes),
        "",
        f"Top {TOP} allocating lines (KB per node, alive after adding):",
    ]
    lines += [
        f"  {stat.size_diff / nodes / 1024:8.2f}  {stat.traceback[0]}"
        for stat in stats[:TOP]
        if stat.size_diff > 0
    ]
    by_file = second.compare_to(first, "filename")
    lines += ["", f"Top {TOP} files (KB per node):"]
    lines += [
        f"  {stat.size_diff / nodes / 1024:8.2f}  {stat.traceback[0].filename}"
        for stat in by_file[:TOP]
        if stat.size_diff > 0
    ]
    microhome_lines = [
        stat
        for stat in stats
        if "custom_components/microhome" in stat.traceback[0].filename and stat.size_diff > 0
    ]
    lines += ["", "Allocating lines in custom_components/microhome (KB per node):"]
    lines += [
        f"  {stat.size_diff / nodes / 1024:8.2f}  {stat.traceback[0]}"
        for stat in microhome_lines[:TOP]
    ]
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(60)
    lines += ["", "cProfile, Home Assistant thread, by cumulative time:", text.getvalue()]
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(40)
    lines += ["", "cProfile, by own time:", text.getvalue()]
    return lines


async def profile(bench: Bench, nodes: int, path: Path) -> None:
    """Add a probe node per side first (imports, platforms), then profile adding `nodes`."""
    await bench.add_probes()
    report = [f"# Profile of adding {nodes} nodes per side", ""]
    report += await profile_side(bench, "microhome", [f"mh-p{i:04d}" for i in range(nodes)])
    report += await profile_side(bench, "peer", [f"peer-p{i:04d}" for i in range(nodes)])
    await bench.blocking(path.write_text, "\n".join(report) + "\n")
