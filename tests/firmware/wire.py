"""What the firmware writes on its MQTT socket, recorded by an LD_PRELOAD shim (mqtt_trace.c)."""

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SHIM_SOURCE = Path(__file__).with_name("mqtt_trace.c")
# The shim is built for this machine's word size: traced nodes run the native micropython.
MICROPYTHON_64 = shutil.which("micropython") or "micropython"
IPPROTO_TCP = 6
TCP_NODELAY = 1


def build_shim(directory: Path) -> Path:
    """Compile the shim; the path of the shared library."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    assert compiler, "a C compiler is needed to trace the firmware's socket writes"
    library = directory / "mqtt_trace.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(SHIM_SOURCE), "-ldl"],
        check=True,
    )
    return library


def trace_env(library: Path, trace: Path, port: int) -> dict[str, str]:
    return {
        "LD_PRELOAD": str(library),
        "MQTT_TRACE_FILE": str(trace),
        "MQTT_TRACE_PORT": str(port),
    }


@dataclass
class Connection:
    """One connection of the firmware to the broker, from its connect()."""

    pid: int
    fd: int
    nodelay_before_first_write: bool = False
    writes: list[bytes] = field(default_factory=list)


def connections(trace: Path) -> list[Connection]:
    found: list[Connection] = []
    current: dict[tuple[int, int], Connection] = {}
    for line in trace.read_text().splitlines():
        kind, pid, fd, *rest = line.split(" ")
        key = (int(pid), int(fd))
        if kind == "C":
            current[key] = Connection(*key)
            found.append(current[key])
        elif key not in current:
            continue  # a socket connected before the trace began
        elif kind == "O":
            level, name, value = map(int, rest)
            if (level, name) == (IPPROTO_TCP, TCP_NODELAY) and not current[key].writes:
                current[key].nodelay_before_first_write = value == 1
        elif kind == "W":
            current[key].writes.append(bytes.fromhex(rest[0]))
    return found


def packet_length(data: bytes) -> int | None:
    """The length of the whole MQTT packet that data starts with (fixed header included)."""
    size = 0
    for i in range(1, min(5, len(data))):
        size |= (data[i] & 0x7F) << 7 * (i - 1)
        if not data[i] & 0x80:
            return 1 + i + size
    return None


def split_packets(write: bytes) -> list[bytes]:
    """The MQTT packets in one write; raises AssertionError if the write ends mid-packet."""
    packets = []
    while write:
        length = packet_length(write)
        assert length is not None and length <= len(write), f"a packet in pieces: {write.hex()}"
        packets.append(write[:length])
        write = write[length:]
    return packets
