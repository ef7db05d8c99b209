"""`microhome bench --only ota`: real firmware nodes updated through a real Home Assistant.

One Home Assistant core in this process (as in bench_ha: the real `mqtt` integration,
MicroHome from the checkout with its own FTP server), one mosquitto, and nodes of the real
firmware under `microhome sim` (the 32-bit micropython where installed). Bundles of newer
versions (the checkout's firmware relabelled, built as `microhome release` does) are put in
<config>/microhome/firmware. Then:

- one node: the update entity's install of the next version, --ota-rounds times in a row;
- --ota-nodes nodes (default 10): one `microhome.ota_update` of all of them at once, to the
  next version, --ota-rounds times in a row.

A node's time runs from the service call to its `ota/status` `done` with the new version (the
new firmware booted on trial, reached the broker and confirmed itself), as a client on the
same broker sees it. The phases come from what the node publishes on the way (see PHASES).
Home Assistant's MQTT entities have no OTA: there is no peer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from microhome_tools import FIRMWARE_DIR, bench_ha
from microhome_tools.bench_node import Inbox, sim_command
from microhome_tools.broker import Mosquitto
from microhome_tools.common import free_port, node_key, stop_process
from microhome_tools.hass_runner import HassRunner
from microhome_tools.release import build_bundle, firmware_version
from microhome_tools.repo import import_integration_from_repository
from microhome_tools.sim import default_heapsize, is_32bit, micropython_binary

NODE_PREFIX = "mh-ota"
MAX_CONCURRENCY = 10  # microhome.ota_update takes at most 10 at a time
DONE_WITHIN = 60.0  # seconds after the service returned for a node's `done` to arrive
# (phase, what it covers): consecutive spans between the marks found by phase_marks().
PHASES = (
    ("command", "service call → the node accepted the `ota` command (its first `downloading`)"),
    (
        "reboot_to_updater",
        "→ the lean updater's first report (the node's 0.55 s pause for its "
        "reports to leave, reset, Wi-Fi, broker)",
    ),
    ("download", "→ `verifying` (the bundle over FTP into the other slot)"),
    ("verify", "→ `rebooting` (hashes checked, slot switched)"),
    (
        "reboot_to_trial",
        "→ the node's `status` `online` (reset, boot of the new version, Wi-Fi, broker)",
    ),
    ("confirm", "→ `ota/status` `done` with the new version (the trial confirmed)"),
)


def add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--ota-rounds",
        type=int,
        default=10,
        help="updates in a row, of the single node and of all nodes at once (ota part)",
    )
    parser.add_argument(
        "--ota-nodes", type=int, default=10, help="nodes updated at once (ota part)"
    )


def phase_marks(
    messages: list[tuple[float, str, bytes]], node_id: str, version: str, since: float
) -> list[float | None]:
    """When each phase of PHASES ended for node_id's update to version started at `since`:
    one time (or None, not seen) per phase, from the messages a client on the broker got."""
    base = f"microhome/{node_id}/"
    accepted = updater = verifying = rebooting = online = done = None
    for at, topic, payload in messages:
        if at < since or not topic.startswith(base):
            continue
        if topic == base + "status":
            if payload == b"online" and rebooting is not None and online is None:
                online = at
            continue
        if topic != base + "ota/status":
            continue
        with contextlib.suppress(ValueError):
            status = json.loads(payload)
            state = status.get("state") if isinstance(status, dict) else None
            if state == "downloading" and status.get("progress") == 0 and verifying is None:
                # The application's report of the accepted command, then the updater's.
                if accepted is None:
                    accepted = at
                else:
                    updater = at
            elif state == "verifying" and verifying is None:
                verifying = at
            elif state == "rebooting" and rebooting is None:
                rebooting = at
            elif state == "done" and status.get("version") == version and done is None:
                done = at
    return [accepted, updater, verifying, rebooting, online, done]


def phase_seconds(since: float, marks: list[float | None]) -> dict[str, float | None]:
    """Each phase's length in seconds (None when a mark at either end is missing)."""
    spans: dict[str, float | None] = {}
    previous: float | None = since
    for (name, _), mark in zip(PHASES, marks, strict=True):
        spans[name] = (
            round(mark - previous, 3) if mark is not None and previous is not None else None
        )
        previous = mark
    return spans


def passive_ports(count: int) -> tuple[int, int]:
    """`count` consecutive loopback ports nothing listens on (the FTP data connections)."""
    for _ in range(200):
        first = random.randrange(20000, 60000 - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return first, first + count - 1
    raise RuntimeError(f"no {count} consecutive free ports for FTP's passive mode")


def prepare(config_dir: Path, versions: list[str], ports: int) -> dict[str, Any]:
    """MicroHome's FTP settings (free ports, reached at 127.0.0.1) and the bundles of
    `versions` in the configuration; the size of the last bundle."""
    from custom_components.microhome.settings import STORAGE_KEY  # noqa: PLC0415

    runner = HassRunner(config_dir)
    first, last = passive_ports(ports)
    port = free_port()
    while first <= port <= last:
        port = free_port()
    settings = {"ftp_port": port, "ftp_passive_ports": [first, last], "ha_address": "127.0.0.1"}
    runner.write_storage(STORAGE_KEY, settings)
    firmware = config_dir / "microhome" / "firmware"
    bundle = firmware
    for version in versions:
        bundle = build_bundle(FIRMWARE_DIR, firmware, version)
    manifest = json.loads((bundle / "manifest.json").read_text())
    return {
        "files": len(manifest["files"]),
        "kb": round(sum(entry["size"] for entry in manifest["files"]) / 1024, 1),
    }


def next_versions(current: str, count: int) -> list[str]:
    """`count` versions newer than `current`, oldest first (the patch number counts up)."""
    major, minor, patch = current.split("-", maxsplit=1)[0].split("+", maxsplit=1)[0].split(".")
    return [f"{major}.{minor}.{int(patch) + step}" for step in range(1, count + 1)]


class OtaBench(bench_ha.Bench):
    """The Home Assistant side: no stand-ins, real firmware nodes only."""

    def __init__(self, work: Path, broker: Mosquitto, args: Any) -> None:
        self.work = work
        self.broker = broker
        self.args = args
        self.hass: Any = None
        self.watch = bench_ha.StateWatch()
        self.inbox = Inbox(broker)
        self.nodes: list[subprocess.Popen[bytes]] = []
        self.binary = micropython_binary(args.micropython)
        self.heapsize = args.heapsize or default_heapsize(self.binary)

    def start_nodes(self, base: str, count: int) -> list[str]:
        """`count` firmware nodes (ids base-1..count), each its own `microhome sim`."""
        ids = [f"{base}-{index}" for index in range(1, count + 1)]
        for node_id in ids:
            command = sim_command(
                self.broker, node_id, self.work / node_id, node_key(bench_ha.FLEET_KEY, node_id),
                "--heapsize", self.heapsize, "--micropython", self.binary,
            )  # fmt: skip
            self.nodes.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        return ids

    def stop_nodes(self) -> None:
        while self.nodes:
            stop_process(self.nodes.pop(), 15)

    def console_tail(self, node_id: str) -> str:
        with contextlib.suppress(OSError):
            return (self.work / node_id / "console.log").read_text(errors="replace")[-3000:]
        return ""

    async def add_nodes(self, ids: list[str], version: str, within: float) -> dict[str, str]:
        """Confirm each node's discovery flow; wait until its update entity shows `version`.
        The update entity of each node."""
        entries = self.hass.config_entries
        pending = set(ids)
        deadline = time.monotonic() + within
        while pending:
            if time.monotonic() > deadline:
                first = min(pending)
                raise TimeoutError(
                    f"nodes not discovered within {within:.0f} s: {sorted(pending)}; the "
                    f"console of {first} ends:\n{self.console_tail(first)}"
                )
            for flow in entries.flow.async_progress_by_handler("microhome"):
                if flow["context"].get("unique_id") in pending:
                    result = await entries.flow.async_configure(flow["flow_id"], {})
                    if (entry := result.get("result")) is not None:
                        pending.discard(entry.unique_id)
            await asyncio.sleep(0.1)
        updates = {i: self.entity_id("update", "microhome", f"{i}_firmware") for i in ids}

        def installed() -> bool:
            return all(
                entity_id and (state := self.hass.states.get(entity_id))
                and state.attributes.get("installed_version") == version
                for entity_id in updates.values()
            )  # fmt: skip

        await self.until(installed, max(1.0, deadline - time.monotonic()), "nodes online")
        return {node_id: str(entity_id) for node_id, entity_id in updates.items()}

    async def wait_done(self, ids: list[str], version: str, since: float) -> dict[str, list[Any]]:
        """Each node's phase marks, once every node reported `done` (or DONE_WITHIN passed)."""
        deadline = time.monotonic() + DONE_WITHIN
        while True:
            with self.inbox.lock:
                messages = list(self.inbox.messages)
            marks = {i: phase_marks(messages, i, version, since) for i in ids}
            if all(m[-1] is not None for m in marks.values()) or time.monotonic() > deadline:
                return marks
            await asyncio.sleep(0.1)

    async def one_node(self, versions: list[str], start: str) -> dict[str, Any]:
        """The update entity's install of each next version, one after the other."""
        from homeassistant.exceptions import HomeAssistantError  # noqa: PLC0415

        ids = await self.blocking(self.start_nodes, f"{NODE_PREFIX}-single", 1)
        updates = await self.add_nodes(ids, start, 300)

        async def install(version: str) -> dict[str, Any]:
            try:
                await self.hass.services.async_call(
                    "update", "install", {"entity_id": updates[ids[0]], "version": version},
                    blocking=True,
                )  # fmt: skip
            except HomeAssistantError as err:
                return {ids[0]: {"result": "failed", "error": str(err)}}
            return {}

        return await self.update_rounds(ids, versions, install)

    async def fleet(self, count: int, versions: list[str], start: str) -> dict[str, Any]:
        """One `microhome.ota_update` of `count` nodes at once, to each version in turn."""
        ids = await self.blocking(self.start_nodes, f"{NODE_PREFIX}-fleet", count)
        updates = await self.add_nodes(ids, start, 120 + count * 20)
        concurrency = min(count, MAX_CONCURRENCY)

        async def update(version: str) -> dict[str, Any]:
            response = await self.hass.services.async_call(
                "microhome", "ota_update",
                {"entity_id": list(updates.values()), "version": version,
                 "concurrency": concurrency},
                blocking=True, return_response=True,
            )  # fmt: skip
            by_node: dict[str, Any] = response["nodes"] if response else {}
            return by_node

        results = await self.update_rounds(ids, versions, update)
        return {"nodes": count, "concurrency": concurrency, **results}

    async def update_rounds(
        self,
        ids: list[str],
        versions: list[str],
        update: Callable[[str], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        """update(version) for each version in turn; the nodes' times, phases and failures.

        update returns Home Assistant's result by node (a node it has none for counts as
        done once the node itself reports `done`)."""
        times: list[float] = []
        totals: list[float] = []
        returned: list[float] = []
        phases: list[dict[str, float | None]] = []
        failed: list[str] = []
        for version in versions:
            await asyncio.sleep(2)  # the nodes settled after their last boot
            since = time.monotonic()
            results = await update(version)
            returned.append(time.monotonic() - since)
            marks = await self.wait_done(ids, version, since)
            done = [m[-1] - since for m in marks.values() if m[-1] is not None]
            times += done
            if len(done) == len(ids):
                totals.append(max(done))
            phases += [phase_seconds(since, m) for m in marks.values()]
            failed += [
                f"{node_id} to {version}: {results.get(node_id)}\n{self.console_tail(node_id)}"
                for node_id, m in marks.items()
                if m[-1] is None or results.get(node_id, {}).get("result", "done") != "done"
            ]
        await self.blocking(self.stop_nodes)
        return {
            "updates": len(ids) * len(versions),
            "update_s": bench_ha.summary(times),
            "all_confirmed_s": bench_ha.summary(totals),
            "service_returned_s": bench_ha.summary(returned),
            "failed": len(failed),
            "failures": failed[:3],
            "phases_s": phase_summaries(phases),
        }


def phase_summaries(spans: list[dict[str, float | None]]) -> dict[str, dict[str, Any]]:
    return {
        name: bench_ha.summary([s[name] for s in spans if s[name] is not None])  # type: ignore[misc]
        for name, _ in PHASES
    }


def bench_ota(args: Any) -> dict[str, Any]:
    """The ota part's results (with "error" when it stopped early)."""
    import_integration_from_repository()
    rounds, count = max(1, args.ota_rounds), max(1, args.ota_nodes)
    start = firmware_version(FIRMWARE_DIR)
    versions = next_versions(start, rounds)
    outcome: dict[str, Any] = {
        "from_version": start,
        "versions": [versions[0], versions[-1]],
        "phases": [list(phase) for phase in PHASES],
    }
    with bench_ha.environment() as (work, broker):
        outcome["bundle"] = prepare(work / "config", versions, min(count, MAX_CONCURRENCY) + 2)
        bench = OtaBench(work, broker, args)
        outcome["heapsize"] = bench.heapsize
        outcome["micropython_bits"] = 32 if is_32bit(bench.binary) else 64

        async def main() -> None:
            await bench.start_hass()
            try:
                outcome["one_node"] = await bench.one_node(versions, start)
                outcome["fleet"] = await bench.fleet(count, versions, start)
            finally:
                await bench.hass.async_stop()

        errors: list[BaseException] = []

        def thread_main() -> None:
            try:
                asyncio.run(main())
            except BaseException as err:  # reported in the caller's thread
                errors.append(err)

        # As in bench_ha: Home Assistant's loop in a thread of its own, the processes here.
        thread = threading.Thread(target=thread_main, name="bench-ota-hass")
        thread.start()
        thread.join()
        bench.stop_nodes()
        bench.inbox.close()
        if errors:
            traceback.print_exception(errors[0])
            first_line = (str(errors[0]).splitlines() or [""])[0]
            outcome["error"] = f"{type(errors[0]).__name__}: {first_line}"
    for part in ("one_node", "fleet"):
        for failure in outcome.get(part, {}).get("failures", []):
            print(f"microhome bench: OTA failed for {failure}", file=sys.stderr)
    return outcome


def bench_ota_process(args: Any) -> dict[str, Any]:
    """bench_ota in a process of its own: a process holds one Home Assistant core, and the
    compare and scale parts start theirs in this one."""
    with tempfile.TemporaryDirectory(prefix="microhome-bench-ota-") as tmp:
        out = Path(tmp) / "ota.json"
        command = [
            sys.executable, "-m", "microhome_tools.bench_ota", "--json", str(out),
            "--ota-rounds", str(args.ota_rounds), "--ota-nodes", str(args.ota_nodes),
        ]  # fmt: skip
        for option, value in (("--heapsize", args.heapsize), ("--micropython", args.micropython)):
            if value:
                command += [option, value]
        code = subprocess.run(command, check=False).returncode
        try:
            outcome: dict[str, Any] = json.loads(out.read_text())
        except OSError, ValueError:
            return {"error": f"the OTA bench process ended with status {code} and no results"}
        return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--heapsize", help="the nodes' heap (default: as `microhome sim`)")
    parser.add_argument("--micropython", help="the micropython binary (as `microhome sim`)")
    parser.add_argument("--json", type=Path, required=True, help="write the results here")
    args = parser.parse_args(argv)
    args.json.write_text(json.dumps(bench_ota(args), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
