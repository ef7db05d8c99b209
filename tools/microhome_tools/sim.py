"""`microhome sim`: the real firmware on the micropython unix port, with simulated hardware.

Each node gets a state directory: `flash/` is the board's file system (the firmware is
installed there once, as flashing a board would: main.py, a/home/ and the boot record slot.txt;
`config.py` (and with --mqtt-tls the CA certificate, ca.pem) is written on every start),
`hw.json` holds the simulated inputs, `hw_out.json` the outputs, `console.log` the console.
`machine.reset()` and a crash restart the firmware on the same flash, as a board reboots.
"""

import argparse
import contextlib
import ctypes
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Final

from microhome_tools import FIRMWARE_DIR
from microhome_tools.catalogue import write_firmware_table
from microhome_tools.common import (
    BOARD_CA_FILE,
    add_broker_arguments,
    broker_settings,
    node_key,
    render_config,
    stop_process,
)

SIM_DIR = FIRMWARE_DIR / "sim"
EXIT_RESET = 75  # micropython/sim/machine.py: exit status of machine.reset()
PWRON_RESET = 1
WDT_RESET = 3  # machine.WDT_RESET on rp2 and esp32
# machine.reset_cause() after machine.reset(): a watchdog reboot on rp2, a soft reset on esp32
RESET_CAUSE_AFTER_RESET = {"rp2": 3, "esp32": 5, "unix": 5}
RESTART_DELAY = 1.0  # seconds before a crashed or killed firmware is powered up again

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def parse_size(text: str) -> str:
    """A heap size for micropython -X heapsize: 96K, 128k, 1M or bytes."""
    number = text.rstrip("kKmM")
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 96K")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", required=True, help="MQTT broker HOST:PORT")
    parser.add_argument("--node-id", help="node id (default: mh- + the simulated unique id)")
    parser.add_argument("--platform", choices=["rp2", "esp32", "unix"], default="rp2")
    parser.add_argument("--state-dir", type=Path, required=True, help="flash root and hardware")
    parser.add_argument(
        "--heapsize",
        type=parse_size,
        help="the board's heap (the simulated hardware is counted out, as a board has it in "
        "ROM; default: 84K on a 32-bit micropython, 124K on a 64-bit one, whose objects are "
        "about 1.5 times larger)",
    )
    parser.add_argument(
        "--micropython",
        help="the micropython binary (default: $MICROHOME_MICROPYTHON, else a 32-bit one "
        "when installed, else the one on PATH)",
    )
    keys = parser.add_mutually_exclusive_group(required=True)
    keys.add_argument("--key", help="the node key (64 hex characters)")
    keys.add_argument("--fleet-key", help="the fleet key; each node's key is derived from it")
    parser.add_argument("--count", type=int, default=1, help="run N nodes <id>-1..N")
    parser.add_argument("--name", help="the node's name until a configuration names it")
    parser.add_argument("--keepalive", type=int, default=30, help="MQTT keepalive in seconds")
    add_broker_arguments(parser)
    parser.add_argument(
        "--reinstall", action="store_true", help="install the firmware again over the flash"
    )


# Where a 32-bit micropython is found: the board model's build (scripts/board-micropython:
# the simulated hardware frozen in, as a board has it in ROM), then Debian's i386 package.
# scripts/env provides both.
def micropython_32bit_candidates() -> list[str]:
    board = os.environ.get("MICROHOME_BOARD_MICROPYTHON")
    return [*([board] if board else []), "/usr/bin/micropython", "/usr/local/bin/micropython"]


def is_32bit(binary: str) -> bool:
    """Whether binary is a 32-bit ELF executable."""
    try:
        with open(binary, "rb") as f:
            head = f.read(5)
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and head[4] == 1


def micropython_binary(choice: str | None = None) -> str:
    """The micropython to run: choice, $MICROHOME_MICROPYTHON, a 32-bit one, or PATH's."""
    choice = choice or os.environ.get("MICROHOME_MICROPYTHON")
    if choice:
        found = shutil.which(choice) or choice
        if not Path(found).exists():
            raise SystemExit(f"micropython not found: {choice}")
        return found
    for candidate in micropython_32bit_candidates():
        if is_32bit(candidate):
            return candidate
    found = shutil.which("micropython") or str(Path(sys.executable).parent / "micropython")
    if not Path(found).exists():
        raise SystemExit("micropython not found; run this inside scripts/env")
    return found


def micropython_binaries(choice: str | None = None) -> list[str]:
    """[choice] when given, else the 32-bit and the 64-bit micropython that are installed (the
    64-bit one: the first micropython on PATH that is not 32-bit, scripts/env's venv has one)."""
    if choice:
        return [micropython_binary(choice)]
    found = [candidate for candidate in micropython_32bit_candidates() if is_32bit(candidate)][:1]
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which("micropython", path=directory)
        if candidate and not is_32bit(candidate):
            return [*found, candidate]
    return found or [micropython_binary()]


def default_heapsize(binary: str) -> str:
    """A board's heap with a margin over what the firmware needs (docs/firmware.md, "Memory":
    the 16-peripheral configuration needs 68K on the board model's 32-bit build, 112K on a
    64-bit one)."""
    return "84K" if is_32bit(binary) else "124K"


def mpy_cross_binary() -> str | None:
    return shutil.which("mpy-cross") or None


def install_firmware(flash: Path, compile_modules: bool = True) -> None:
    """Flash the firmware as `microhome flash` does: main.py, home/ compiled with mpy-cross in
    application directory a/, and the boot record slot.txt naming a/. Older firmware,
    including an OTA's second directory and staging area, is removed."""
    write_firmware_table()  # the peripheral table as the catalogue says now
    flash.mkdir(parents=True, exist_ok=True)
    for old in ("home", "a", "b", "ota"):
        if (flash / old).exists():
            shutil.rmtree(flash / old)
    compiler = mpy_cross_binary() if compile_modules else None
    for source in sorted((FIRMWARE_DIR / "home").rglob("*.py")):
        relative = source.relative_to(FIRMWARE_DIR)
        destination = flash / "a" / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if compiler:
            subprocess.run(
                [
                    compiler,
                    "-s",
                    relative.as_posix(),
                    "-o",
                    str(destination.with_suffix(".mpy")),
                    str(source),
                ],
                check=True,
                cwd=FIRMWARE_DIR,
            )
        else:
            shutil.copyfile(source, destination)
    (flash / "slot.txt").write_text("a")
    shutil.copyfile(FIRMWARE_DIR / "main.py", flash / "main.py")


def install_simulated_hardware(target: Path, compiler: str | None) -> None:
    """The simulated board (sim/board.py) and hardware (machine, network, I2C, 1-Wire) beside
    the firmware, compiled as a board has its ROM modules."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for source in sorted(SIM_DIR.glob("*.py")):
        if compiler:
            destination = str(target / source.with_suffix(".mpy").name)
            subprocess.run([compiler, "-o", destination, str(source)], check=True)
        else:
            shutil.copyfile(source, target / source.name)


# The board model (docs/firmware.md, "Memory"): on a board the simulated modules are C modules
# in ROM. The firmware runs in a heap this much larger than the board's, sim/board.py loads
# every simulated module first and holds the rest in a ballast, so that the firmware starts
# with the free heap a board with the heap asked for has.
BOARD_RESERVE = 128 * 1024
# The heap from the program break, not a mapping: on the board model's build (linked at a fixed
# address) it then lies below 1 GB, where id() needs no heap (scripts/board-micropython).
BOARD_MALLOC = "glibc.malloc.mmap_threshold=16777216"
BOARD_MODULE = "board"
SIMULATED_HARDWARE: Final = tuple(
    sorted(path.stem for path in SIM_DIR.glob("*.py") if path.stem != BOARD_MODULE)
)


def heap_bytes(size: str) -> int:
    """The bytes of a heap size such as 96K, 1M or 98304."""
    scale = {"k": 1024, "m": 1024 * 1024}.get(size[-1:].lower(), 1)
    return int(size.rstrip("kKmM")) * scale


def board_free(binary: str, heapsize: str, env: dict[str, str]) -> int:
    """The heap free when main.py starts on a board with this heap: the heap less what the
    interpreter has allocated by then, measured in a micropython with exactly this heap."""
    probe = "import gc\ngc.collect()\nprint(gc.mem_free())"
    result = subprocess.run(
        [binary, "-X", f"heapsize={heapsize}", "-c", probe],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(result.stdout.split()[-1])


def firmware_command(binary: str, heapsize: str, free: int) -> list[str]:
    """How a simulated board runs main.py, on every boot (sim/board.py)."""
    heap = heap_bytes(heapsize) + BOARD_RESERVE
    return [binary, "-X", f"heapsize={heap}", "-m", BOARD_MODULE, str(free), *SIMULATED_HARDWARE]


def sim_command(broker: str, state_dir: Path, *options: str) -> list[str]:
    """The command line of `microhome sim` for a node in `state_dir` on broker HOST:PORT."""
    return [sys.executable, "-m", "microhome_tools.cli", "sim", "--broker", broker,
            "--state-dir", str(state_dir), *options]  # fmt: skip


def _die_with_parent() -> None:
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: no orphans if the sim is killed


class SimNode:
    """One simulated board: its flash, hardware files and firmware process."""

    def __init__(self, args: argparse.Namespace, node_id: str | None, state_dir: Path) -> None:
        self.state_dir = state_dir.resolve()
        self.flash = self.state_dir / "flash"
        self.platform = args.platform
        self.micropython = micropython_binary(args.micropython)
        self.heapsize = args.heapsize or default_heapsize(self.micropython)
        seed = node_id or str(self.state_dir)
        self.uid = hashlib.sha256(seed.encode()).hexdigest()[:16]
        self.node_id = node_id or "mh-" + self.uid[-6:]
        if args.key:
            key = bytes.fromhex(args.key)
        else:
            key = node_key(bytes.fromhex(args.fleet_key), self.node_id)
        if len(key) != 32:
            raise SystemExit("the key must be 32 bytes (64 hex characters)")
        broker, self.ca = broker_settings(args)
        self.config = {
            "WIFI_SSID": "microhome-sim",
            "WIFI_PASSWORD": "",
            **broker,
            "MQTT_KEEPALIVE": args.keepalive,
            "NODE_ID": node_id,
            "NODE_NAME": args.name,
            "NODE_KEY": key.hex(),
        }
        self.reinstall = args.reinstall
        self.process: subprocess.Popen[bytes] | None = None
        self.restart_at: float | None = None
        self.cause = PWRON_RESET
        self.console: IO[str] | None = None
        self.prefix = ""
        self.free: int | None = None  # the board's free heap at boot, measured once

    def prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.reinstall or not (self.flash / "main.py").exists():
            install_firmware(self.flash)
        install_simulated_hardware(self.flash / "sim", mpy_cross_binary())
        (self.flash / "config.py").write_text(render_config(self.config, "microhome sim"))
        if self.ca is not None:
            (self.flash / BOARD_CA_FILE).write_bytes(self.ca)
        hw = self.state_dir / "hw.json"
        if not hw.exists():
            hw.write_text('{"pins": {}}\n')
        self.console = (self.state_dir / "console.log").open("a", buffering=1)

    def start(self) -> None:
        env = dict(os.environ)
        env.update(
            MICROPYPATH=f":.frozen:{self.flash / 'lib'}:{self.flash / 'sim'}",
            MICROHOME_STATE=str(self.state_dir),
            MICROHOME_PLATFORM=self.platform,
            MICROHOME_UID=self.uid,
            MICROHOME_RESET_CAUSE=str(self.cause),
            GLIBC_TUNABLES=":".join(filter(None, (os.environ.get("GLIBC_TUNABLES"), BOARD_MALLOC))),
        )
        if self.free is None:
            self.free = board_free(self.micropython, self.heapsize, env)
        (self.state_dir / "wdt").unlink(missing_ok=True)  # a new boot starts without a watchdog
        self.say(f"--- power on (reset cause {self.cause}) ---")
        self.process = subprocess.Popen(
            firmware_command(self.micropython, self.heapsize, self.free),
            cwd=self.flash,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        (self.state_dir / "firmware.pid").write_text(f"{self.process.pid}\n")
        threading.Thread(target=self._pump, args=(self.process,), daemon=True).start()

    def say(self, line: str) -> None:
        sys.stdout.write(f"{self.prefix}{line}\n")
        sys.stdout.flush()
        if self.console:
            self.console.write(line + "\n")

    def _pump(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self.say(raw.decode(errors="replace").rstrip("\n"))

    def poll(self) -> None:
        """Restart the firmware after machine.reset() or a crash, as a board reboots."""
        now = time.monotonic()
        if self.process is not None:
            code = self.process.poll()
            if code is None:
                self._watch_dog()
                return
            self.process = None
            if code == EXIT_RESET:
                self.cause = RESET_CAUSE_AFTER_RESET[self.platform]
                self.restart_at = now
                self.say("--- reset ---")
            else:
                self.cause = PWRON_RESET
                self.restart_at = now + RESTART_DELAY
                self.say(f"--- firmware stopped (exit status {code}), powering up again ---")
        if self.restart_at is not None and now >= self.restart_at:
            self.restart_at = None
            self.start()

    def _watch_dog(self) -> None:
        """Reset the firmware, as the board's watchdog would, when it was not fed in time."""
        stamp = self.state_dir / "wdt"
        try:
            timeout_ms = int(stamp.read_text())
            starved = time.time() - stamp.stat().st_mtime > timeout_ms / 1000
        except OSError, ValueError:
            return
        if starved and self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
            self.cause = WDT_RESET
            self.restart_at = time.monotonic()
            self.say("--- watchdog reset ---")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process:
            stop_process(process, 3)
        if self.console:
            self.console.close()
            self.console = None


def build_nodes(args: argparse.Namespace) -> list[SimNode]:
    if args.count < 1:
        raise SystemExit("--count must be at least 1")
    if args.count == 1:
        return [SimNode(args, args.node_id, args.state_dir)]
    base = args.node_id or "mh-sim"
    nodes = []
    for index in range(1, args.count + 1):
        node_id = f"{base}-{index}"
        node = SimNode(args, node_id, args.state_dir / node_id)
        node.prefix = f"{node_id} | "
        nodes.append(node)
    return nodes


def run(args: argparse.Namespace) -> int:
    nodes = build_nodes(args)
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for node in nodes:
            node.prepare()
            node.start()
        while not stopping.wait(0.1):
            for node in nodes:
                node.poll()
    finally:
        for node in nodes:
            node.stop()
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError):
                signal.signal(sig, handler)
    return 0
