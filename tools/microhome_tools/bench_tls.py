"""`microhome bench --only tls`: what TLS to the broker costs the node, on the real firmware's
MQTT client (home.lib.mqtt_client with home.broker_tls) and a real mosquitto with a TLS
listener whose certificate (P-256) is signed by a CA made for the run.

- connect: reconnect time (close, TCP connect, TLS handshake and certificate check, CONNECT,
  CONNACK), plain and TLS, median of the samples;
- MicroPython heap (gc.mem_free) taken by TLS while connected: the context with the CA and
  the TLS socket;
- mbedTLS's own memory while connected (glibc's malloc_stats; the unix build's mbedTLS
  allocates from the C heap, rp2's from the MicroPython heap).
"""

import json
import re
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from microhome_tools import FIRMWARE_DIR
from microhome_tools.broker import Mosquitto
from microhome_tools.certs import CertificateAuthority
from microhome_tools.sim import is_32bit, micropython_binary

# Runs on micropython: argv = port, tls (0/1), samples. Prints one JSON line.
SCRIPT = """
import sys, gc, time, asyncio
sys.path.insert(0, sys.argv[1])
from home.lib.mqtt_client import MQTTClient
port, use_tls, samples = int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
try:
    import ffi
    _stats = ffi.open("libc.so.6").func("v", "malloc_stats", "")
except (ImportError, OSError):
    _stats = None
def c_heap(label):
    if _stats:
        sys.stderr.write("== %s\\n" % label)
        _stats()
async def main():
    gc.collect()
    free = gc.mem_free()
    c_heap("before")
    tls = None
    if use_tls:
        from home.broker_tls import BrokerTLS
        tls = BrokerTLS("ca.pem", "127.0.0.1", print)
    client = MQTTClient("bench", "127.0.0.1", port, keepalive=0, tls=tls, log=print)
    asyncio.create_task(client.run())
    await client.up.wait()
    gc.collect()
    held = free - gc.mem_free()
    c_heap("connected")
    times = []
    for _ in range(samples):
        start = time.ticks_us()
        client.disconnect()
        await asyncio.sleep_ms(0)
        await client.up.wait()
        times.append(time.ticks_diff(time.ticks_us(), start))
    print(__import__("json").dumps({"held": held, "times_us": times}))
asyncio.run(main())
"""


def _c_heap_in_use(stderr: str) -> dict[str, int]:
    """label -> arena 0's "in use bytes" from malloc_stats output after each "== label"."""
    found: dict[str, int] = {}
    for label, block in re.findall(r"== (\w+)\n(.*?)(?===|\Z)", stderr, re.DOTALL):
        match = re.search(r"in use bytes\s*=\s*(\d+)", block)
        if match:
            found[label] = int(match.group(1))
    return found


def _measure(binary: str, work: Path, port: int, tls: bool, samples: int) -> dict[str, Any]:
    script = work / "bench_tls.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [binary, "-X", "heapsize=256K", str(script), str(FIRMWARE_DIR), str(port),
         "1" if tls else "0", str(samples)],
        cwd=work, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    line = result.stdout.strip().splitlines()[-1]
    data = json.loads(line)
    c_heap = _c_heap_in_use(result.stderr)
    times = data["times_us"]
    measured: dict[str, Any] = {
        "reconnect_ms_median": round(statistics.median(times) / 1000, 1),
        "reconnect_ms_max": round(max(times) / 1000, 1),
        "micropython_heap_held_bytes": data["held"],
    }
    if "before" in c_heap and "connected" in c_heap:
        measured["c_heap_held_bytes"] = c_heap["connected"] - c_heap["before"]
    return measured


def bench_tls(binary: str | None = None, samples: int = 20) -> dict[str, Any]:
    binary = micropython_binary(binary)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ca = CertificateAuthority(work, "bench-ca")
        issued = ca.issue("broker", ["127.0.0.1"])
        (work / "ca.pem").write_bytes(ca.pem.read_bytes())
        (work / "broker").mkdir()
        broker = Mosquitto(work / "broker", tls=(issued.cert, issued.key)).start()
        try:
            assert broker.tls_port is not None
            plain = _measure(binary, work, broker.port, False, samples)
            tls = _measure(binary, work, broker.tls_port, True, samples)
        finally:
            broker.stop()
    return {
        "micropython": binary,
        "bits": 32 if is_32bit(binary) else 64,
        "certificate": "P-256 ECDSA, signed by the CA",
        "plain": plain,
        "tls": tls,
    }
