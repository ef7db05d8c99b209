"""`microhome bench --only heap`: the smallest heap at which the real firmware does each job.

Each job runs on a fresh simulated node (the real firmware on the chosen micropython, a real
mosquitto); a heap passes when the job completes twice, each time without a reboot or a lost
connection (a configuration: once applied and announced; an update: once the node reports it
done and announces the new version). The heap is the board's
(`microhome sim`'s board model, docs/firmware.md "Memory"). The search halves the range between
a failing and a passing heap down to 4 KB. Without --micropython both the 32-bit and the
64-bit micropython are measured.
"""

import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from microhome_tools import FIRMWARE_DIR
from microhome_tools.bench_node import (
    AIR,
    NODE_ID,
    PROBES,
    SENSORS,
    Inbox,
    bus_hardware,
    start_bench_node,
    write_inputs,
)
from microhome_tools.broker import Mosquitto
from microhome_tools.certs import CertificateAuthority
from microhome_tools.ftpd import FtpTestServer, ota_fields
from microhome_tools.release import build_bundle
from microhome_tools.sim import is_32bit, micropython_binaries

BASE = f"microhome/{NODE_ID}"
STEP = 4  # KB
EIGHT: list[dict[str, Any]] = [
    *SENSORS,
    {"id": "pir2", "type": "motion", "pin": 17, "off_delay": 30},
    {"id": "lamp2", "type": "led", "pin": 18, "freq": 1000},
    {"id": "climate2", "type": "dht22", "pin": 19, "interval": 30},
    {"id": "lamp3", "type": "led", "pin": 20, "freq": 1000},
]
# The largest configuration the protocol allows: 16 sensors, every id 16 characters long.
SIXTEEN: list[dict[str, Any]] = [
    *(
        {"id": f"motion_sensor_{i:02d}", "type": "motion", "pin": i, "off_delay": 3600}
        for i in range(8)
    ),
    *(
        {"id": f"climate_sensor{i:02d}", "type": "dht22", "pin": 8 + i, "interval": 86400}
        for i in range(4)
    ),
    *(
        {"id": f"led_light_num_{i:02d}", "type": "led", "pin": 12 + i, "freq": 40000}
        for i in range(3)
    ),
    {"id": "status_light_led", "type": "status_led", "pin": "LED"},
]


UPDATE_VERSION = "9.1.0"  # the bundle the update jobs install


class Failed(Exception):
    """The job did not complete at this heap."""


type Job = Callable[[Inbox, Path], None]
REBOOTING: set[Job] = set()  # the jobs that reboot the node (updates)


def _config(inbox: Inbox, sensors: list[dict[str, Any]]) -> None:
    """Configure the node: applied, and announced (Home Assistant learns of it that way)."""
    config = {"version": 1, "name": "Heap", "telemetry_interval": 60, "log_level": "I"}
    since = time.monotonic()
    inbox.configure(BASE, {**config, "sensors": sensors}, 20)
    inbox.wait(f"{BASE}/announce", since, lambda p: json.loads(p)["cfg"] == 1, 15)


def _command(inbox: Inbox, light: str) -> None:
    since = time.monotonic()
    inbox.publish_signed(f"{BASE}/cmd", {"cmd": "set", "id": light, "on": True})
    inbox.wait(f"{BASE}/reply", since, lambda p: json.loads(p)["ok"], 15)


def job_sensors(sensors: list[dict[str, Any]], light: str | None = None) -> Job:
    """Configure `sensors` (the simulated buses attached), switch `light`, let them read."""

    def job(inbox: Inbox, state: Path) -> None:
        write_inputs(state, 0, bus_hardware())
        _config(inbox, sensors)
        if light:
            _command(inbox, light)
        time.sleep(3)  # the drivers' first readings

    return job


@contextmanager
def update_server() -> Iterator[tuple[Path, FtpTestServer]]:
    """An FTP server with a bundle of this firmware labelled UPDATE_VERSION."""
    with tempfile.TemporaryDirectory() as tmp:
        bundle = build_bundle(FIRMWARE_DIR, Path(tmp) / "root", UPDATE_VERSION)
        server = FtpTestServer(Path(tmp) / "root")
        logging.getLogger("pyftpdlib").setLevel(logging.WARNING)  # not a line per file sent
        try:
            yield bundle, server
        finally:
            server.stop()


def job_update(sensors: list[dict[str, Any]], light: str | None = None) -> Job:
    """The sensors job, then an OTA update to UPDATE_VERSION, done and announced."""
    run = job_sensors(sensors, light)

    def job(inbox: Inbox, state: Path) -> None:
        run(inbox, state)
        with update_server() as (bundle, server):
            since = time.monotonic()
            fields = ota_fields(bundle, server.port)
            inbox.publish_signed(f"{BASE}/cmd", {"cmd": "ota", **fields})
            inbox.wait(f"{BASE}/ota/status", since, _update_over, 120)
            ends = [m[2] for m in inbox.messages if m[0] >= since and m[1] == f"{BASE}/ota/status"]
            if json.loads(next(filter(_update_over, ends)))["state"] != "done":
                raise Failed("the update did not complete")
            inbox.wait(f"{BASE}/announce", since, _announces_update, 30)

    REBOOTING.add(job)
    return job


def _update_over(payload: bytes) -> bool:
    return bool(json.loads(payload)["state"] in ("done", "failed", "rolled_back"))


def _announces_update(payload: bytes) -> bool:
    return bool(json.loads(payload).get("fw") == UPDATE_VERSION)


def job_burst(inbox: Inbox, state: Path) -> None:
    _config(inbox, SENSORS)
    since = time.monotonic()
    for i in range(100):
        inbox.publish_signed(f"{BASE}/cmd", {"cmd": "set", "id": "lamp", "on": bool(i % 2)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = [m for m in inbox.messages if m[0] >= since and m[1] == f"{BASE}/reply"]
        if len(replies) >= 100:
            break
        time.sleep(0.2)
    else:
        raise Failed("not every command was answered")
    _command(inbox, "lamp")


def job_big_message(inbox: Inbox, state: Path) -> None:
    _config(inbox, SENSORS)
    inbox.client.publish(f"{BASE}/cmd", b"0" * 65536, qos=1).wait_for_publish()
    _command(inbox, "lamp")


JOBS: dict[str, Job] = {
    "4 sensors running": job_sensors(SENSORS, "lamp"),
    "8 peripherals running": job_sensors(EIGHT, "lamp3"),
    "16-peripheral configuration": job_sensors(SIXTEEN, "led_light_num_02"),
    "100-command burst": job_burst,
    "64 KB message": job_big_message,
    "4 sensors, OTA update": job_update(SENSORS, "lamp"),
    "heat exchanger (4 DS18B20, 1-Wire) running": job_sensors(PROBES),
    "heat exchanger, OTA update": job_update(PROBES),
    "air quality (SCD4x + AHT20, I2C) running": job_sensors(AIR),
    "air quality, OTA update": job_update(AIR),
}
# Jobs run on a node that talks TLS to the broker (a P-256 certificate from a CA made here).
TLS_JOBS: dict[str, Job] = {
    "4 sensors running, TLS to the broker": job_sensors(SENSORS, "lamp"),
}


def attempt(binary: str, heap_kb: int, job: Job, tls: bool = False) -> bool:
    """Whether the job completes at this heap without a reboot or a reconnect."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "broker").mkdir()
        node_broker: list[str] = []
        if tls:
            ca = CertificateAuthority(work, "bench-ca")
            issued = ca.issue("broker", ["127.0.0.1"])
            broker = Mosquitto(work / "broker", tls=(issued.cert, issued.key)).start()
            node_broker = ["--broker", f"{broker.host}:{broker.tls_port}", "--mqtt-tls", "--ca",
                           str(ca.pem)]  # fmt: skip
        else:
            broker = Mosquitto(work / "broker").start()
        inbox = Inbox(broker)
        state = work / "node"
        started = time.monotonic()
        sim = start_bench_node(
            state, broker, "--heapsize", f"{heap_kb}K", "--micropython", binary, *node_broker
        )
        try:
            inbox.wait(f"{BASE}/status", started, lambda p: p == b"online", 20)
            job(inbox, state)
            onlines = [m for m in inbox.messages if m[1] == f"{BASE}/status" and m[2] == b"online"]
            return len(onlines) == 1 or job in REBOOTING
        except Failed, TimeoutError:
            return False
        finally:
            sim.terminate()
            sim.wait(15)
            inbox.close()
            broker.stop()


def passes(binary: str, heap_kb: int, job: Job, tls: bool = False) -> bool:
    """Whether the job completes at this heap twice in a row: a heap at the edge, where it
    completes only now and then, does not pass."""
    return attempt(binary, heap_kb, job, tls) and attempt(binary, heap_kb, job, tls)


def smallest_heap(binary: str, job: Job, low: int, high: int, tls: bool = False) -> int | None:
    """The smallest heap in KB (a multiple of STEP) in (low, high] at which job passes."""
    if not passes(binary, high, job, tls):
        return None
    while high - low > STEP:
        middle = (low + high) // 2 // STEP * STEP
        if passes(binary, middle, job, tls):
            high = middle
        else:
            low = middle
    return high


def bench_heap(binary: str | None = None) -> dict[str, Any]:
    """{"32": figures, "64": figures} for the binaries measured (`binary` alone when given)."""
    return {
        str(figures["bits"]): figures
        for figures in map(bench_heap_of, micropython_binaries(binary))
    }


def bench_heap_of(binary: str) -> dict[str, Any]:
    bits = 32 if is_32bit(binary) else 64
    low, high = (32, 128) if bits == 32 else (48, 192)
    results: dict[str, Any] = {"micropython": binary, "bits": bits}
    for name, job in JOBS.items():
        found = smallest_heap(binary, job, low, high)
        results[name] = f"{found}K" if found else f"fails at {high}K"
    for name, job in TLS_JOBS.items():
        found = smallest_heap(binary, job, low, high, tls=True)
        results[name] = f"{found}K" if found else f"fails at {high}K"
    return results
