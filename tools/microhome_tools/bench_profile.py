"""`microhome bench --profile FILE`: where MicroHome's stalls, memory and time per node go.

The same Home Assistant, broker and stand-ins as the scale part. Each part chosen with
--profile-parts adds N (--nodes) new nodes per side, one part after the other in the same
Home Assistant, and writes what it found to FILE as text:

- stalls: a thread notices that the event loop has not run for 30 ms and samples the loop
  thread's stack until it runs again; every garbage collection is timed (gc.callbacks). The
  report: the stalls, the collections by generation, the frames the loop was in while stalled
  and the stack of the longest stalls. A collection holds the GIL: the sampler sees no stack
  during one, and a stall that is all collection shows only the garbage collection time.
- memory: allocations still alive after adding, grouped by the line that made them
  (tracemalloc), and the Python objects left per node by type (gc.get_objects).
- time: cProfile of the Home Assistant thread while adding.

Each part also counts the objects that grow with nodes: entities, config entries, entity
platforms, MQTT subscriptions (simple and wildcard), dispatcher connections. Not timed where it
profiles (cProfile and tracemalloc slow everything); the stalls part runs at full speed.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import io
import pstats
import sys
import threading
import time
import traceback
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from microhome_tools.bench_ha import Bench

TOP = 30
PARTS = ("stalls", "memory", "time")
STALL_SECONDS = 0.03
SAMPLE_SECONDS = 0.005
HEARTBEAT_SECONDS = 0.005
LONGEST = 8
# Frames every stack of the loop thread has: left out of the counts and the stacks shown.
_LOOP_FRAMES = ("/asyncio/", "/threading.py", "/contextvars", "bench_ha.py")


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


def short(filename: str) -> str:
    """A path without the site-packages or checkout prefix."""
    for marker in ("site-packages/", "custom_components/", "microhome_tools/"):
        if marker in filename:
            head = "" if marker == "site-packages/" else marker
            return head + filename.rsplit(marker, 1)[1]
    return filename


def where(frame: traceback.FrameSummary) -> str:
    return f"{short(frame.filename)}:{frame.lineno} {frame.name}"


@dataclass
class Stall:
    """The loop not run from `beat` on, for ms; the loop thread's stacks meanwhile."""

    beat: float
    ms: float = 0.0
    samples: list[traceback.StackSummary] = field(default_factory=list)


class StallSampler:
    """Notices, from a thread of its own, that the event loop has not run for STALL_SECONDS,
    and samples the loop thread's stack (sys._current_frames) every SAMPLE_SECONDS until it
    runs again; times every garbage collection (gc.callbacks) meanwhile."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.beat = time.monotonic()
        self.stalls: list[Stall] = []
        self.collections: list[tuple[float, float, int, int]] = []  # start, ms, gen, collected
        self._gc_started = 0.0
        self._running = False
        self._thread: threading.Thread | None = None
        self._handle: asyncio.TimerHandle | None = None

    def _heartbeat(self) -> None:
        self.beat = time.monotonic()
        self._handle = self.loop.call_later(HEARTBEAT_SECONDS, self._heartbeat)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.monotonic()
        if phase == "start":
            self._gc_started = now
            return
        elapsed = (now - self._gc_started) * 1000
        self.collections.append((self._gc_started, elapsed, info["generation"], info["collected"]))

    def _watch(self) -> None:
        current: Stall | None = None
        while self._running:
            time.sleep(SAMPLE_SECONDS)
            beat, now = self.beat, time.monotonic()
            if current is not None and beat != current.beat:
                current.ms = (beat - current.beat) * 1000
                current = None
            if now - beat < STALL_SECONDS:
                continue
            frame = sys._current_frames().get(self.loop_thread)
            if frame is None:
                continue
            if current is None:
                current = Stall(beat)
                self.stalls.append(current)
            current.samples.append(traceback.extract_stack(frame))
            del frame

    def start(self) -> None:
        self._running = True
        self._heartbeat()
        gc.callbacks.append(self._on_gc)
        self._thread = threading.Thread(target=self._watch, name="stall-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join()
        if self._handle is not None:
            self._handle.cancel()
        gc.callbacks.remove(self._on_gc)
        for stall in self.stalls:
            if not stall.ms:
                stall.ms = (time.monotonic() - stall.beat) * 1000

    def gc_ms_within(self, stall: Stall) -> float:
        end = stall.beat + stall.ms / 1000
        return sum(ms for start, ms, _, _ in self.collections if stall.beat <= start <= end)

    def report(self) -> list[str]:
        stalls = sorted(self.stalls, key=lambda s: s.ms, reverse=True)
        total = sum(s.ms for s in stalls)
        lines = [
            f"Stalls (the loop not run for more than {STALL_SECONDS * 1000:.0f} ms): "
            f"{len(stalls)}, {total:.0f} ms in all, the longest "
            f"{stalls[0].ms if stalls else 0:.0f} ms; garbage collection within them: "
            f"{sum(self.gc_ms_within(s) for s in stalls):.0f} ms",
            "",
            "Garbage collections while adding, by generation (count, ms in all, longest ms):",
        ]
        for generation in sorted({c[2] for c in self.collections}):
            times = [c[1] for c in self.collections if c[2] == generation]
            lines.append(
                f"  gen {generation}: {len(times)}, {sum(times):.0f} ms, {max(times):.1f} ms"
            )
        samples = [sample for stall in stalls for sample in stall.samples]
        frames: Counter[str] = Counter()
        for sample in samples:
            frames.update({where(f) for f in sample if not _loop_frame(f)})
        lines += [
            "",
            f"Where the stalled loop was ({len(samples)} samples, 5 ms apart; a frame counts "
            "once a sample):",
        ]
        lines += [f"  {n:5d}  {frame}" for frame, n in frames.most_common(45)]
        for stall in stalls[:LONGEST]:
            collected = self.gc_ms_within(stall)
            lines += [
                "",
                f"Stall of {stall.ms:.0f} ms ({collected:.0f} ms garbage collection), "
                f"{len(stall.samples)} samples; the middle one:",
            ]
            middle = stall.samples[len(stall.samples) // 2]
            lines += [f"    {where(f)}" for f in middle if not _loop_frame(f)]
        return lines


def _loop_frame(frame: traceback.FrameSummary) -> bool:
    return any(part in frame.filename for part in _LOOP_FRAMES)


async def add(bench: Bench, side: str, ids: list[str]) -> tuple[float, list[str]]:
    if side == "microhome":
        result = await bench.add_microhome(ids, 120 + len(ids) * 2.0)
    else:
        result = await bench.add_peer(ids, 120 + len(ids) * 2.0)
    await bench.hass.async_block_till_done()
    return result


def header(part: str, side: str, nodes: int, seconds: float, not_live: list[str]) -> list[str]:
    return [
        f"## {part}, {side}: {nodes} nodes added in {seconds:.1f} s, {len(not_live)} not live then",
        "",
    ]


async def profile_stalls(bench: Bench, side: str, ids: list[str]) -> list[str]:
    sampler = StallSampler(asyncio.get_running_loop())
    sampler.start()
    try:
        seconds, not_live = await add(bench, side, ids)
    finally:
        sampler.stop()
    return header("stalls", side, len(ids), seconds, not_live) + sampler.report()


def object_types() -> Counter[str]:
    return Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())


async def profile_memory(bench: Bench, side: str, ids: list[str]) -> list[str]:
    gc.collect()
    types_before = object_types()
    tracemalloc.start(8)
    first = tracemalloc.take_snapshot()
    seconds, not_live = await add(bench, side, ids)
    await asyncio.sleep(2)  # deferred saves (registries, entries) land
    gc.collect()
    second = tracemalloc.take_snapshot()
    tracemalloc.stop()
    nodes = len(ids)
    stats = second.compare_to(first, "lineno")
    by_file = second.compare_to(first, "filename")
    del first, second  # their traces are objects of their own
    types = object_types()
    types.subtract(types_before)
    total = sum(stat.size_diff for stat in stats)
    lines = [
        *header("memory", side, nodes, seconds, not_live),
        f"Python allocations still alive after adding: {total / 1024:.0f} KB, "
        f"{total / nodes / 1024:.1f} KB per node",
        "",
        f"Top {TOP} allocating lines (KB per node, alive after adding):",
    ]
    lines += [
        f"  {stat.size_diff / nodes / 1024:8.2f}  {short(str(stat.traceback[0]))}"
        for stat in stats[:TOP]
        if stat.size_diff > 0
    ]
    lines += ["", f"Top {TOP} files (KB per node):"]
    lines += [
        f"  {stat.size_diff / nodes / 1024:8.2f}  {short(stat.traceback[0].filename)}"
        for stat in by_file[:TOP]
        if stat.size_diff > 0
    ]
    ours = [s for s in stats if "custom_components/microhome" in str(s.traceback[0])]
    lines += ["", "Allocating lines in custom_components/microhome (KB per node):"]
    lines += [
        f"  {stat.size_diff / nodes / 1024:8.2f}  {short(str(stat.traceback[0]))}"
        for stat in ours[:TOP]
        if stat.size_diff > 0
    ]
    lines += ["", f"Top {TOP} object types that garbage collection tracks (per node):"]
    lines += [f"  {n / nodes:8.2f}  {name}" for name, n in types.most_common(TOP)]
    return lines


async def profile_time(bench: Bench, side: str, ids: list[str]) -> list[str]:
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        seconds, not_live = await add(bench, side, ids)
    finally:
        profiler.disable()
    raw = bench.args.profile.resolve().with_suffix(f".{side}.pstats")
    await bench.blocking(profiler.dump_stats, raw)
    lines = header("time (under cProfile)", side, len(ids), seconds, not_live)
    lines += [f"(the whole profile, for pstats: {raw})", ""]
    for order, top in (("cumulative", 60), ("tottime", 40)):
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(top)
        lines += [f"cProfile, Home Assistant thread, by {order} time:", text.getvalue()]
    return lines


type Part = Callable[[Bench, str, list[str]], Awaitable[list[str]]]
PROFILERS: dict[str, Part] = {
    "stalls": profile_stalls,
    "memory": profile_memory,
    "time": profile_time,
}


async def profile(bench: Bench, nodes: int, path: Path) -> None:
    """Add a probe node per side first (imports, platforms), then for each part chosen add
    `nodes` more per side under it."""
    await bench.add_probes()
    chosen = [p for p in getattr(bench.args, "profile_parts", None) or PARTS if p in PROFILERS]
    report = [f"# Profile of adding {nodes} nodes per side: {', '.join(chosen)}", ""]
    for number, part in enumerate(chosen):
        for side, prefix in (("microhome", "mh-p"), ("peer", "peer-p")):
            ids = [f"{prefix}{number}-{i:04d}" for i in range(nodes)]
            before = counts(bench)
            report += await PROFILERS[part](bench, side, ids)
            report += ["", "Objects per node:", *delta(counts(bench), before, nodes), ""]
            await bench.blocking(path.write_text, "\n".join(report) + "\n")
