"""`microhome bench`: speed and memory, measured on the real parts.

- firmware: a real node (`microhome sim`, real micropython, given heap) on a real mosquitto:
  boot to online, pin edge to motion state, light command to state echo, memory after setup;
- bundle: size of the firmware bundle;
- logs: how much log ingestion delays Home Assistant's event loop (bench_logs);
- ota: real firmware nodes updated through a real Home Assistant, one and ten at once
  (bench_ota).
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from microhome_tools import FIRMWARE_DIR, bench_ha, bench_ota, bench_profile
from microhome_tools.bench_node import NODE_ID, SENSORS, Inbox, start_bench_node, write_inputs
from microhome_tools.broker import Mosquitto
from microhome_tools.repo import RepositoryNotFound
from microhome_tools.sim import default_heapsize, is_32bit, micropython_binary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--only",
        choices=["firmware", "bundle", "logs", "heap", "tls", "ota", *bench_ha.PARTS],
        action="append",
        help="default: all but heap (the smallest heap for each job: several minutes) and tls",
    )
    parser.add_argument(
        "--heapsize", help="the node's heap (firmware bench; default: as `microhome sim`)"
    )
    parser.add_argument("--micropython", help="the micropython binary (as `microhome sim`)")
    parser.add_argument("--samples", type=int, default=20, help="edges and commands to time")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    bench_ha.add_arguments(parser)
    bench_ota.add_arguments(parser)


def bench_firmware(heapsize: str | None, samples: int, binary: str | None = None) -> dict[str, Any]:
    binary = micropython_binary(binary)
    heapsize = heapsize or default_heapsize(binary)
    base = f"microhome/{NODE_ID}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "broker").mkdir()
        broker = Mosquitto(work / "broker").start()
        inbox = Inbox(broker)
        state = work / "node"
        started = time.monotonic()
        sim = start_bench_node(state, broker, "--heapsize", heapsize, "--micropython", binary)
        try:
            online = inbox.wait(f"{base}/status", started, lambda p: p == b"online", 60)
            config = {"version": 1, "name": "Bench", "telemetry_interval": 5, "log_level": "I"}
            configured = inbox.configure(base, {**config, "sensors": SENSORS}, 30)
            applied = time.monotonic() - configured
            inbox.wait(f"{base}/state/pir", configured, timeout=30)
            time.sleep(1)
            motion = []
            for index in range(samples):
                level = (index + 1) % 2
                edge = time.monotonic()
                write_inputs(state, level)
                expected = b"true" if level else b"false"
                arrived = inbox.wait(f"{base}/state/pir", edge, lambda p, e=expected: e in p)
                motion.append((arrived - edge) * 1000)
                time.sleep(0.2)
            echo = []
            for index in range(samples):
                sent = time.monotonic()
                brightness = 10 + (index * 10) % 240  # a node takes 0..255
                inbox.publish_signed(
                    f"{base}/cmd",
                    {"cmd": "set", "id": "lamp", "on": True, "brightness": brightness},
                )
                arrived = inbox.wait(
                    f"{base}/state/lamp",
                    sent,
                    lambda p, b=brightness: json.loads(p).get("brightness") == b,
                )
                echo.append((arrived - sent) * 1000)
            telemetry_since = time.monotonic()
            inbox.wait(f"{base}/telemetry", telemetry_since, timeout=15)
            last = [m for m in inbox.messages if m[1] == f"{base}/telemetry"][-1]
            telemetry = json.loads(last[2])
        finally:
            sim.terminate()
            sim.wait(15)
            inbox.close()
            broker.stop()
    return {
        "heapsize": heapsize,
        "micropython_bits": 32 if is_32bit(binary) else 64,
        "boot_to_online_s": round(online - started, 2),
        "config_applied_s": round(applied, 3),
        "motion_edge_to_state_ms": summary(motion),
        "light_command_to_echo_ms": summary(echo),
        "mem_free_bytes": telemetry.get("mem_free"),
        "mem_alloc_bytes": telemetry.get("mem_alloc"),
        "note": "the simulated pin is polled every 20 ms; on a board the IRQ fires at once",
    }


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(ordered[int(len(ordered) * 0.9) - 1], 1),
        "max": round(ordered[-1], 1),
        "samples": len(ordered),
    }


def bench_bundle() -> dict[str, Any]:
    from microhome_tools.release import build_bundle  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        bundle = build_bundle(FIRMWARE_DIR, Path(tmp), None)
        files = [path for path in bundle.rglob("*") if path.is_file()]
        modules = [path for path in files if path.suffix == ".mpy"]
        return {
            "version": bundle.name,
            "modules": len(modules),
            "modules_bytes": sum(path.stat().st_size for path in modules),
            "total_bytes": sum(path.stat().st_size for path in files),
        }


def bench_logs(seconds: float = 10.0, nodes: int = 50) -> dict[str, Any]:
    from microhome_tools.bench_logs import measure_log_ingestion  # noqa: PLC0415

    return measure_log_ingestion(nodes=nodes, seconds=seconds).as_dict()


def run(args: argparse.Namespace) -> int:
    try:
        return run_parts(args)
    except RepositoryNotFound as err:
        print(f"microhome bench: {err}", file=sys.stderr)
        return 2


def run_parts(args: argparse.Namespace) -> int:
    chosen = args.only or ["bundle", "firmware", "logs", "ota", *bench_ha.PARTS]
    results: dict[str, Any] = {}
    if "bundle" in chosen:
        results["bundle"] = bench_bundle()
        print(json.dumps({"bundle": results["bundle"]}, indent=2), flush=True)
    if "firmware" in chosen:
        results["firmware"] = bench_firmware(args.heapsize, args.samples, args.micropython)
        print(json.dumps({"firmware": results["firmware"]}, indent=2), flush=True)
    if "logs" in chosen:
        results["logs"] = bench_logs(args.log_seconds, args.log_nodes)
        print(json.dumps({"logs": results["logs"]}, indent=2), flush=True)
    if "heap" in chosen:
        from microhome_tools.bench_heap import bench_heap  # noqa: PLC0415

        results["heap"] = bench_heap(args.micropython)
        print(json.dumps({"heap": results["heap"]}, indent=2), flush=True)
    if "tls" in chosen:
        from microhome_tools.bench_tls import bench_tls  # noqa: PLC0415

        results["tls"] = bench_tls(args.micropython, args.samples)
        print(json.dumps({"tls": results["tls"]}, indent=2), flush=True)
    if "ota" in chosen:
        results["ota"] = bench_ota.bench_ota_process(args)
        print(json.dumps({"ota": results["ota"]}, indent=2), flush=True)
    results.update(bench_ha.run_parts(args, chosen, results, bench_profile.profile))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if error := results.get("ota", {}).get("error"):
        print(f"microhome bench: the OTA part stopped early: {error}", file=sys.stderr)
        return 1
    return 0
