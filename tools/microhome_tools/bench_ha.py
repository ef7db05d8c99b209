"""`microhome bench --only compare|scale`: MicroHome beside Home Assistant's own MQTT entities.

One Home Assistant core (this process, its own thread and event loop, the real `mqtt`
integration and MicroHome loaded from the checkout), one mosquitto, one run. MicroHome's side is
fed by stand-in nodes (microhome_tools.standin, a separate process) and by the real firmware
(`microhome sim`); the peer is HA's MQTT discovery entities fed by an echo client on the same
connection as the stand-ins.

- compare: node state message -> HA state; `light.turn_on` -> state confirmed (stand-in node,
  and real firmware); real-firmware pin edge -> HA state.
- scale: for each node count, stand-in nodes are added (MicroHome through its real discovery
  config flow, the peer through MQTT discovery), then run: event-loop lag p99 while adding and
  while running, HA memory per node (RSS delta), time to add, dropped states, and how long a
  live node's state is held back while the others are added.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microhome_tools.bench_node import sim_command
from microhome_tools.broker import Mosquitto
from microhome_tools.common import node_key, stop_process
from microhome_tools.hass_runner import HassRunner
from microhome_tools.repo import import_integration_from_repository
from microhome_tools.standin import PEER_PREFIX, SENSORS

PARTS = ("compare", "scale")
FLEET_KEY = bytes(range(32))
PROBE_NODE = "mh-probe"
PROBE_PEER = "peer-probe"
FIRMWARE_NODE = "mh-firmware"
LOOP_PROBE_INTERVAL = 0.005
HOLD_BACK_INTERVAL = 0.05
CONFIGURATION_YAML = """\
homeassistant:
  name: Bench
  unit_system: metric
  time_zone: UTC
frontend:
logger:
  default: warning
"""


def add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--nodes",
        type=int,
        action="append",
        help="node counts for the scale part (repeatable; default 200 and 1000)",
    )
    parser.add_argument(
        "--state-rounds", type=int, default=5, help="states per node while running (scale part)"
    )
    parser.add_argument(
        "--log-seconds", type=float, default=10.0, help="how long the log part ingests"
    )
    parser.add_argument("--log-nodes", type=int, default=50, help="nodes the log part has")
    parser.add_argument(
        "--out", type=Path, help="where results.json and RESULTS.md go (default: benchmarks/)"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="instead of measuring, profile adding --nodes nodes per side into this text file",
    )
    parser.add_argument(
        "--profile-parts",
        type=lambda text: [part for part in text.split(",") if part],
        help="what --profile looks at, each part adding --nodes more nodes per side: a comma "
        "list of stalls, memory and time (default: all three)",
    )


def summary(values: list[float]) -> dict[str, float | int]:
    """p50, p95, p99 and max of millisecond values, with the sample count."""
    if not values:
        return {"samples": 0}
    ordered = sorted(values)

    def pick(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(len(ordered) * fraction))], 2)

    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": round(ordered[-1], 2),
        "samples": len(ordered),
    }


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


class StandIns:
    """The stand-in process; request() blocks, so the event loop calls it in the executor."""

    def __init__(self, broker: Mosquitto) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "microhome_tools.standin",
                "--broker",
                f"{broker.host}:{broker.port}",
                "--fleet-key",
                FLEET_KEY.hex(),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lock = threading.Lock()

    def request(self, **request: Any) -> dict[str, Any]:
        assert self.process.stdin and self.process.stdout
        with self.lock:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the stand-in process ended")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.request(op="quit")
        stop_process(self.process, 10, terminate=False)


class Probe:
    """A paho client in this process that publishes as a node would, noting when it did."""

    def __init__(self, broker: Mosquitto) -> None:
        import paho.mqtt.client as mqtt  # noqa: PLC0415

        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-probe")
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def publish(self, topic: str, payload: Any, retain: bool = True) -> float:
        """Publish; return the monotonic time just before."""
        text = payload if isinstance(payload, str) else json.dumps(payload)
        sent = time.monotonic()
        self.client.publish(topic, text, qos=0, retain=retain)
        return sent

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class Waiter:
    entity_id: str
    match: Callable[[Any], bool]
    future: asyncio.Future[float]


@dataclass
class StateWatch:
    """Every state change, timed on arrival: waiters and per-entity distinct values."""

    waiters: list[Waiter] = field(default_factory=list)
    counted: dict[str, set[str]] = field(default_factory=dict)

    def on_event(self, event: Any) -> None:
        now = time.monotonic()
        entity_id = event.data["entity_id"]
        new_state = event.data.get("new_state")
        if new_state is None:
            return
        if (seen := self.counted.get(entity_id)) is not None:
            seen.add(new_state.state)
        for waiter in list(self.waiters):
            if waiter.entity_id == entity_id and waiter.match(new_state):
                self.waiters.remove(waiter)
                if not waiter.future.done():
                    waiter.future.set_result(now)

    def expect(self, entity_id: str, match: Callable[[Any], bool]) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters.append(Waiter(entity_id, match, future))
        return future


class LoopLag:
    """How late a task sleeping 5 ms at a time wakes: what other event handling waits."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(LOOP_PROBE_INTERVAL)
            self.delays.append((loop.time() - start - LOOP_PROBE_INTERVAL) * 1000)

    @contextlib.asynccontextmanager
    async def measuring(self) -> Any:
        self.delays = []
        self.task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


class Bench:
    """The Home Assistant side of one run."""

    def __init__(self, work: Path, broker: Mosquitto, args: Any) -> None:
        self.work = work
        self.broker = broker
        self.args = args
        self.hass: Any = None
        self.watch = StateWatch()
        self.standins = StandIns(broker)
        self.probe = Probe(broker)
        self.results: dict[str, Any] = {}

    # --- Home Assistant --------------------------------------------------------------------

    async def start_hass(self) -> None:
        from homeassistant import bootstrap  # noqa: PLC0415
        from homeassistant.const import EVENT_STATE_CHANGED  # noqa: PLC0415
        from homeassistant.runner import RuntimeConfig  # noqa: PLC0415

        config_dir = self.work / "config"
        hass = await bootstrap.async_setup_hass(
            RuntimeConfig(
                config_dir=str(config_dir),
                skip_pip=True,
                log_file=str(config_dir / "home-assistant.log"),
                log_no_color=True,
            )
        )
        if hass is None:
            raise RuntimeError("Home Assistant did not set up; see its log in " + str(config_dir))
        self.hass = hass
        await hass.async_start()
        hass.bus.async_listen(EVENT_STATE_CHANGED, self.watch.on_event)
        flow = await hass.config_entries.flow.async_init("mqtt", context={"source": "user"})
        result = await hass.config_entries.flow.async_configure(
            flow["flow_id"],
            {
                "broker": self.broker.host,
                "port": self.broker.port,
                "other_settings": {"set_client_cert": False, "set_ca_cert": "off"},
            },
        )
        if result.get("type") != "create_entry":
            raise RuntimeError(f"the MQTT config flow did not create an entry: {result}")
        await hass.async_block_till_done()

    async def blocking(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await self.hass.async_add_executor_job(lambda: function(*args, **kwargs))

    def entity_id(self, domain: str, platform: str, unique_id: str) -> str | None:
        from homeassistant.helpers import entity_registry as er  # noqa: PLC0415

        return er.async_get(self.hass).async_get_entity_id(domain, platform, unique_id)

    def microhome_entities(self, node_id: str) -> dict[str, str | None]:
        return {
            "lamp": self.entity_id("light", "microhome", f"{node_id}_lamp"),
            "temperature": self.entity_id("sensor", "microhome", f"{node_id}_climate_temperature"),
            "motion": self.entity_id("binary_sensor", "microhome", f"{node_id}_pir"),
        }

    def peer_entities(self, device_id: str) -> dict[str, str | None]:
        return {
            "lamp": self.entity_id("light", "mqtt", f"{device_id}_lamp"),
            "temperature": self.entity_id("sensor", "mqtt", f"{device_id}_temperature"),
            "motion": self.entity_id("binary_sensor", "mqtt", f"{device_id}_motion"),
        }

    def live(self, entity_id: str | None) -> bool:
        if entity_id is None:
            return False
        state = self.hass.states.get(entity_id)
        return state is not None and state.state not in ("unavailable", "unknown")

    async def until(self, condition: Callable[[], bool], within: float, what: str) -> None:
        deadline = time.monotonic() + within
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {within:.0f} s")
            await asyncio.sleep(0.05)

    # --- adding nodes ----------------------------------------------------------------------

    async def confirm_discovered_nodes(self, wanted: set[str]) -> None:
        """Confirm MicroHome's discovery flows (the user's click), then give each node sensors.

        The sensors are set the way the options flow saves them (next_options), so the entry's
        update listener pushes the signed configuration to the node. Each click is a request of
        its own in Home Assistant: the loop runs other work between them.
        """
        from custom_components.microhome.config_flow import next_options  # noqa: PLC0415

        entries = self.hass.config_entries
        for flow in entries.flow.async_progress_by_handler("microhome"):
            if flow["context"].get("unique_id") in wanted:
                result = await entries.flow.async_configure(flow["flow_id"], {})
                entry = result.get("result")
                if entry is not None:
                    wanted.discard(entry.unique_id)
                    entries.async_update_entry(
                        entry, options=next_options(entry, sensors=[dict(s) for s in SENSORS])
                    )
                await asyncio.sleep(0)

    async def add_microhome(self, ids: list[str], within: float) -> tuple[float, list[str]]:
        """Announce stand-ins, confirm their flows, wait until every lamp is live.

        Returns the seconds it took and the nodes not live by then (empty if all are).
        """
        started = time.monotonic()
        await self.blocking(self.standins.request, op="microhome", ids=ids)
        pending = set(ids)
        deadline = started + within
        while pending and time.monotonic() < deadline:
            await self.confirm_discovered_nodes(pending)
            await asyncio.sleep(0.05)
        if pending:
            return time.monotonic() - started, sorted(pending)
        not_live = await self.all_live(ids, "microhome", deadline - time.monotonic())
        return time.monotonic() - started, not_live

    async def add_peer(self, ids: list[str], within: float) -> tuple[float, list[str]]:
        started = time.monotonic()
        await self.blocking(self.standins.request, op="peer", ids=ids)
        not_live = await self.all_live(ids, "peer", within)
        return time.monotonic() - started, not_live

    async def all_live(self, ids: list[str], side: str, within: float) -> list[str]:
        """Until every node's lamp is live (each checked until it is, not again), or `within`
        seconds have passed: the nodes not live then."""
        pending = set(ids)
        lamp = (
            (lambda i: self.entity_id("light", "microhome", f"{i}_lamp"))
            if side == "microhome"
            else (lambda i: self.entity_id("light", "mqtt", f"{i}_lamp"))
        )

        def done() -> bool:
            pending.difference_update([i for i in pending if self.live(lamp(i))])
            return not pending

        with contextlib.suppress(TimeoutError):
            await self.until(done, max(0.0, within), f"{side} lamps live")
        return sorted(pending)

    async def add_probes(self) -> None:
        """One node a side that the latency parts use; both must come live."""
        for side, add, ident in (
            ("microhome", self.add_microhome, PROBE_NODE),
            ("peer", self.add_peer, PROBE_PEER),
        ):
            _, not_live = await add([ident], 120)
            if not_live:
                raise RuntimeError(f"the {side} probe node {ident} did not come live")

    def lamp_state(self, side: str, ident: str) -> str:
        entity_id = (self.microhome_entities if side == "microhome" else self.peer_entities)(ident)[
            "lamp"
        ]
        state = self.hass.states.get(entity_id) if entity_id else None
        return f"{ident}: {entity_id} is {state.state if state else 'missing'}"

    # --- compare -----------------------------------------------------------------------------

    async def state_latency(self, topic: str, entity_id: str, samples: int) -> list[float]:
        times = []
        for index in range(samples):
            value = round(10 + index * 0.1 + (time.time_ns() % 1000) / 10000, 3)
            future = self.watch.expect(entity_id, lambda s, v=value: float(s.state) == v)
            sent = await self.blocking(self.probe.publish, topic, {"temperature": value,
                                                                     "humidity": 40.0})  # fmt: skip
            times.append((await asyncio.wait_for(future, 10) - sent) * 1000)
            await asyncio.sleep(0.02)
        return times

    async def light_round_trip(self, entity_id: str, samples: int) -> list[float]:
        times = []
        for index in range(samples):
            brightness = 20 + (index * 37) % 230
            future = self.watch.expect(
                entity_id,
                lambda s, b=brightness: s.state == "on" and s.attributes.get("brightness") == b,
            )
            sent = time.monotonic()
            await self.hass.services.async_call(
                "light", "turn_on", {"entity_id": entity_id, "brightness": brightness}
            )
            times.append((await asyncio.wait_for(future, 10) - sent) * 1000)
            await asyncio.sleep(0.05)
        return times

    async def compare(self, samples: int) -> dict[str, Any]:
        await self.add_probes()
        micro = self.microhome_entities(PROBE_NODE)
        peer = self.peer_entities(PROBE_PEER)
        assert micro["temperature"] and micro["lamp"] and peer["temperature"] and peer["lamp"]
        state_micro = await self.state_latency(
            f"microhome/{PROBE_NODE}/state/climate", micro["temperature"], samples
        )
        state_peer = await self.state_latency(
            f"{PEER_PREFIX}/{PROBE_PEER}/climate/state", peer["temperature"], samples
        )
        light_micro = await self.light_round_trip(micro["lamp"], samples)
        light_peer = await self.light_round_trip(peer["lamp"], samples)
        firmware = await self.firmware(samples, peer)
        return {
            "state_to_ha_ms": pair(state_micro, state_peer),
            "light_round_trip_standin_ms": pair(light_micro, light_peer),
            **firmware,
        }

    async def firmware(self, samples: int, peer: dict[str, str | None]) -> dict[str, Any]:
        """The real firmware under `microhome sim`: light round trip and pin edge."""
        state_dir = self.work / "firmware"
        await self.blocking(state_dir.mkdir)
        await self.blocking(write_pins, state_dir, 0)
        sim = await self.blocking(start_sim, self.broker, state_dir)
        try:
            await self.add_microhome_firmware(300)
            micro = self.microhome_entities(FIRMWARE_NODE)
            assert micro["lamp"] and micro["motion"] and peer["lamp"] and peer["motion"]
            await self.until(lambda: self.live(micro["motion"]), 60, "firmware motion live")
            light_micro = await self.light_round_trip(micro["lamp"], samples)
            light_peer = await self.light_round_trip(peer["lamp"], samples)
            edge_micro: list[float] = []
            edge_peer: list[float] = []
            for index in range(samples):
                level = (index + 1) % 2
                expected = "on" if level else "off"
                future = self.watch.expect(micro["motion"], lambda s, e=expected: s.state == e)
                edge = time.monotonic()
                await self.blocking(write_pins, state_dir, level)
                edge_micro.append((await asyncio.wait_for(future, 10) - edge) * 1000)
                future = self.watch.expect(peer["motion"], lambda s, e=expected: s.state == e)
                sent = await self.blocking(
                    self.probe.publish,
                    f"{PEER_PREFIX}/{PROBE_PEER}/pir/state",
                    {"motion": bool(level)},
                )
                edge_peer.append((await asyncio.wait_for(future, 10) - sent) * 1000)
                await asyncio.sleep(0.1)
        finally:
            await self.blocking(stop_process, sim, 15)
        return {
            "light_round_trip_firmware_ms": pair(light_micro, light_peer),
            "pin_edge_to_ha_ms": pair(edge_micro, edge_peer),
        }

    async def add_microhome_firmware(self, within: float) -> None:
        pending = {FIRMWARE_NODE}
        deadline = time.monotonic() + within
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError("the firmware node was not discovered")
            await self.confirm_discovered_nodes(pending)
            await asyncio.sleep(0.1)
        await self.until(
            lambda: self.live(self.microhome_entities(FIRMWARE_NODE)["lamp"]),
            max(1.0, deadline - time.monotonic()),
            "firmware lamp live",
        )

    # --- scale -------------------------------------------------------------------------------

    async def hold_back(self, side: str, stop: asyncio.Event) -> list[float]:
        """A live node's climate state every 50 ms while others are added: how late it shows."""
        if side == "microhome":
            topic = f"microhome/{PROBE_NODE}/state/climate"
            entity_id = self.microhome_entities(PROBE_NODE)["temperature"]
        else:
            topic = f"{PEER_PREFIX}/{PROBE_PEER}/climate/state"
            entity_id = self.peer_entities(PROBE_PEER)["temperature"]
        assert entity_id
        times: list[float] = []
        index = 0
        while not stop.is_set():
            index += 1
            value = round(30 + (index % 5000) * 0.001, 3)
            future = self.watch.expect(entity_id, lambda s, v=value: float(s.state) == v)
            sent = await self.blocking(self.probe.publish, topic, {"temperature": value,
                                                                     "humidity": 40.0})  # fmt: skip
            with contextlib.suppress(TimeoutError):
                times.append((await asyncio.wait_for(future, 30) - sent) * 1000)
            await asyncio.sleep(HOLD_BACK_INTERVAL)
        return times

    async def add_tier(self, side: str, ids: list[str]) -> dict[str, Any]:
        gc.collect()
        rss_before = await self.blocking(rss_bytes)
        lag = LoopLag()
        stop = asyncio.Event()
        holder = asyncio.create_task(self.hold_back(side, stop))
        within = 60 + len(ids) * 0.3
        async with lag.measuring():
            if side == "microhome":
                seconds, not_live = await self.add_microhome(ids, within)
            else:
                seconds, not_live = await self.add_peer(ids, within)
            adding_lag = list(lag.delays)
        stop.set()
        held = await holder
        await self.hass.async_block_till_done()
        await asyncio.sleep(2)  # deferred saves (registries, entries) land
        gc.collect()
        rss_after = await self.blocking(rss_bytes)
        return {
            "added": len(ids),
            "add_seconds": round(seconds, 2),
            "not_live_when_given_up": len(not_live),
            "not_live_examples": [self.lamp_state(side, i) for i in not_live[:5]],
            "memory_per_node_kb": round((rss_after - rss_before) / len(ids) / 1024, 1),
            "loop_lag_adding_ms": summary(adding_lag),
            "state_held_back_ms": summary(held),
        }

    async def run_tier(self, side: str, ids: list[str], rounds: int) -> dict[str, Any]:
        entities = [
            (self.microhome_entities(i) if side == "microhome" else self.peer_entities(i))[
                "temperature"
            ]
            for i in ids
        ]
        start = 50.0 + len(self.results.get("_runs", [])) * 10
        self.results.setdefault("_runs", []).append(side)
        expected = {f"{start + r * 0.1:.1f}" for r in range(rounds)}
        for entity_id in entities:
            if entity_id:
                self.watch.counted[entity_id] = set()
        lag = LoopLag()
        async with lag.measuring():
            answer = await self.blocking(
                self.standins.request, op="states", side=side, ids=ids, rounds=rounds,
                interval=1.0, start=start,
            )  # fmt: skip

            def arrived() -> int:
                return sum(len(self.watch.counted.get(e or "", set()) & expected) for e in entities)

            with contextlib.suppress(TimeoutError):
                await self.until(lambda: arrived() >= answer["sent"], 10, "states")
            running_lag = list(lag.delays)
        received = arrived()
        for entity_id in entities:
            self.watch.counted.pop(entity_id or "", None)
        return {
            "states_sent": answer["sent"],
            "states_dropped": answer["sent"] - received,
            "loop_lag_running_ms": summary(running_lag),
        }

    async def scale(
        self, counts: list[int], rounds: int, outcome: dict[str, Any]
    ) -> dict[str, Any]:
        """Each count in turn; a larger count adds the difference. Kept in outcome["scale"] as
        it goes, so that a count that fails leaves the ones before it."""
        if self.microhome_entities(PROBE_NODE)["lamp"] is None:
            await self.add_probes()
        tiers: dict[str, Any] = {}
        outcome["scale"] = tiers
        have = 0
        for count in sorted(counts):
            new = range(have, count)
            sides: dict[str, Any] = {}
            for side, prefix in (("microhome", "mh-n"), ("peer", "peer-n")):
                ids = [f"{prefix}{index:04d}" for index in new]
                added = await self.add_tier(side, ids) if ids else {}
                everyone = [f"{prefix}{index:04d}" for index in range(count)]
                sides[side] = added | await self.run_tier(side, everyone, rounds)
            tiers[str(count)] = sides
            have = count
        return tiers


def pair(micro: list[float], peer: list[float]) -> dict[str, Any]:
    """Both sides' summaries and the ratio of their p50 and p95."""
    ours, theirs = summary(micro), summary(peer)
    return {"microhome": ours, "peer": theirs, "ratio": ratios(ours, theirs)}


def ratios(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float | None]:
    result: dict[str, float | None] = {}
    for key in ("p50", "p95", "p99", "max"):
        if key in ours and key in theirs:
            result[key] = round(ours[key] / theirs[key], 2) if theirs[key] else None
    return result


def write_pins(state_dir: Path, motion: int) -> None:
    tmp = state_dir / "hw.tmp"
    tmp.write_text(
        json.dumps({"pins": {"15": {"temperature": 21.0, "humidity": 45.0}, "16": motion}})
    )
    tmp.replace(state_dir / "hw.json")


def start_sim(broker: Mosquitto, state_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        sim_command(broker, FIRMWARE_NODE, state_dir, node_key(FLEET_KEY, FIRMWARE_NODE)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.contextmanager
def environment() -> Iterator[tuple[Path, Mosquitto]]:
    """A work directory with a Home Assistant configuration and a running mosquitto."""
    with tempfile.TemporaryDirectory(prefix="microhome-bench-") as tmp:
        work = Path(tmp)
        (work / "broker").mkdir()
        runner = HassRunner(work / "config", fleet_key=FLEET_KEY)
        runner.prepare()
        (work / "config" / "configuration.yaml").write_text(CONFIGURATION_YAML)
        broker = Mosquitto(work / "broker").start()
        try:
            yield work, broker
        finally:
            broker.stop()


# bench_profile.profile, passed in by the CLI (it imports this module, not the other way).
type Profiler = Callable[[Bench, int, Path], Awaitable[None]]


def measure(parts: list[str], args: Any, profiler: Profiler | None = None) -> dict[str, Any]:
    """Run the chosen parts in one Home Assistant on one broker; their results by part; with
    args.profile, profiler instead."""
    import_integration_from_repository()
    outcome: dict[str, Any] = {}

    async def main(bench: Bench) -> None:
        await bench.start_hass()
        try:
            if args.profile and profiler is not None:
                await profiler(bench, (args.nodes or [200])[0], args.profile.resolve())
                return
            if "compare" in parts:
                outcome["compare"] = await bench.compare(args.samples)
            if "scale" in parts:
                counts = args.nodes or [200, 1000]
                outcome["scale"] = await bench.scale(counts, args.state_rounds, outcome)
        finally:
            await bench.hass.async_stop()

    with environment() as (work, broker):
        bench = Bench(work, broker, args)
        errors: list[BaseException] = []

        def thread_main() -> None:
            try:
                asyncio.run(main(bench))
            except BaseException as err:  # re-raised in the caller's thread
                errors.append(err)

        # Home Assistant flags blocking calls made in its loop's thread; the broker, the
        # stand-ins and the firmware are started and stopped from this one.
        thread = threading.Thread(target=thread_main, name="bench-hass")
        thread.start()
        thread.join()
        bench.standins.close()
        bench.probe.close()
        if errors:
            traceback.print_exception(errors[0])
            outcome["error"] = f"{type(errors[0]).__name__}: {errors[0]}"
    return outcome


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
    }


def run_parts(
    args: Any, chosen: list[str], earlier: dict[str, Any], profiler: Profiler | None = None
) -> dict[str, Any]:
    """The `microhome bench` hook: run this module's parts, then write the results files."""
    from microhome_tools import bench_report  # noqa: PLC0415

    if args.profile:
        measure([], args, profiler)
        return {}
    parts = [part for part in PARTS if part in chosen]
    results = measure(parts, args) if parts else {}
    for part, value in results.items():
        print(json.dumps({part: value}, indent=2), flush=True)
    out = bench_report.write(args, chosen, {**earlier, **results}, machine())
    if "error" in results:
        raise RuntimeError(f"the bench stopped early ({results['error']}); what it measured "
                           f"before is in {out}")  # fmt: skip
    return results
