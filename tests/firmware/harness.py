"""A simulated node (`microhome sim` on the real micropython) and an MQTT observer for tests."""

import ctypes
import hashlib
import hmac
import itertools
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from microhome_tools.sim import default_heapsize, is_32bit, micropython_binary, sim_command

# The micropython `microhome sim` runs: a 32-bit build when installed (scripts/env installs
# Debian's i386 package), whose heap figures are a board's.
MICROPYTHON = micropython_binary()
BOARD_SIZED = is_32bit(MICROPYTHON)
# Heaps are a board's (the sim counts its simulated hardware out, docs/firmware.md "Memory").
# The smallest that pass are 60-68K (README, "Measured"): the tests keep a margin.
HEAPSIZE = os.environ.get("MICROHOME_TEST_HEAPSIZE") or default_heapsize(MICROPYTHON)
# Nodes that update run with this heap: an update with four sensors completes at 64K (96K on
# a 64-bit build).
OTA_HEAPSIZE = os.environ.get("MICROHOME_TEST_OTA_HEAPSIZE") or ("80K" if BOARD_SIZED else "112K")
_libc = ctypes.CDLL(None)


def _die_with_parent() -> None:
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: a sim never outlives its test run


_n = [int(time.time() * 1000)]  # Home Assistant's n: milliseconds of wall-clock time
_n_lock = threading.Lock()
_observers = itertools.count()
# How far ahead of the last accepted n a node reserves its replay mark (docs/protocol.md).
N_RESERVED_MS = 60_000


def next_n() -> int:
    """An `n` larger than every one sent before."""
    with _n_lock:
        _n[0] += 1
        return _n[0]


def time_passes(ms: int) -> None:
    """Move the n of later commands on by ms, as Home Assistant's clock would."""
    with _n_lock:
        _n[0] += ms


def wait_until[T](check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll check() until it returns something other than None/False, or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@dataclass
class Message:
    index: int
    topic: str
    payload: bytes
    retain: bool
    at: float

    def json(self) -> Any:
        return json.loads(self.payload)


class Observer:
    """A paho client that records everything under microhome/ and publishes for the test."""

    def __init__(
        self, host: str, port: int, durable: bool = False, login: tuple[str, str] | None = None
    ) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"observer-{os.getpid()}-{next(_observers)}",
            clean_session=not durable,  # durable: the broker queues messages while we are away
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)
        if login is not None:
            self.client.username_pw_set(*login)
        self.client.connect(host, port, keepalive=10)
        self.client.loop_start()
        if not self.connected.wait(10):
            self.close()
            raise AssertionError("observer could not connect")

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        client.subscribe("microhome/#", qos=1)
        self.connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        self.connected.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(
                Message(
                    len(self.messages),
                    msg.topic,
                    bytes(msg.payload),
                    bool(msg.retain),
                    time.monotonic(),
                )
            )

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def mark(self) -> int:
        """The index of the next message; pass it as `since` to see only newer ones."""
        with self.lock:
            return len(self.messages)

    def on(self, topic: str, since: int = 0) -> list[Message]:
        with self.lock:
            return [m for m in self.messages[since:] if m.topic == topic]

    def wait(
        self,
        topic: str,
        match: Callable[[Message], bool] = lambda m: True,
        timeout: float = 10,
        since: int = 0,
    ) -> Message:
        def find() -> Message | None:
            return next((m for m in self.on(topic, since) if match(m)), None)

        return wait_until(find, timeout, f"a message on {topic}")

    def wait_json(
        self,
        topic: str,
        match: Callable[[Any], bool] = lambda body: True,
        timeout: float = 10,
        since: int = 0,
    ) -> Any:
        def matches(message: Message) -> bool:
            try:
                return bool(match(message.json()))
            except ValueError, KeyError, TypeError:
                return False

        return self.wait(topic, matches, timeout, since).json()

    def publish(self, topic: str, payload: str | bytes, retain: bool = False, qos: int = 1) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(5)


class SimNode:
    """`microhome sim` running one node (or --count nodes) in the background."""

    def __init__(
        self,
        broker: tuple[str, int],
        state_dir: Path,
        node_id: str | None,
        key: str,
        *,
        platform: str = "rp2",
        extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.broker = broker
        self.state_dir = state_dir
        self.node_id = node_id
        self.key = bytes.fromhex(key)
        self.platform = platform
        self.extra = extra
        self.env = env
        self.prefix = f"microhome/{node_id}/"
        self.process: subprocess.Popen[bytes] | None = None
        self.output = state_dir / "sim.out"

    def command_line(self) -> list[str]:
        """The `microhome sim` command; `extra` may replace --node-id and --key (e.g. --count)."""
        line = sim_command(
            f"{self.broker[0]}:{self.broker[1]}", self.state_dir, "--platform", self.platform,
            "--heapsize", HEAPSIZE, "--keepalive", "10", "--micropython", MICROPYTHON,
        )  # fmt: skip
        if self.node_id and "--node-id" not in self.extra and "--count" not in self.extra:
            line += ["--node-id", self.node_id]
        if "--fleet-key" not in self.extra:
            line += ["--key", self.key.hex()]
        return [*line, *self.extra]

    def start(self) -> SimNode:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.output.open("ab") as out:
            self.process = subprocess.Popen(
                self.command_line(),
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env} if self.env else None,
            )
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def console(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    # --- hardware -----------------------------------------------------------------

    def set_hw(self, pins: dict[str, Any], **extra: Any) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / "hw.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pins": pins, **extra}))
        tmp.replace(path)

    def hw_out(self) -> dict[str, Any]:
        try:
            return json.loads((self.state_dir / "hw_out.json").read_text())
        except OSError, ValueError:
            return {}

    def firmware_pid(self) -> int:
        return int((self.state_dir / "firmware.pid").read_text())

    # --- protocol -----------------------------------------------------------------

    def topic(self, suffix: str) -> str:
        return self.prefix + suffix

    def signed(self, suffix: str, body: dict[str, Any] | str, key: bytes | None = None) -> str:
        text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        digest = hmac.new(
            key or self.key, f"{self.topic(suffix)}\n{text}".encode(), hashlib.sha256
        ).hexdigest()
        return f"{digest} {text}"

    def push_config(self, observer: Observer, config: dict[str, Any]) -> tuple[int, str]:
        """Publish a signed retained config/set; its n and payload."""
        body = {**config, "n": next_n()}
        payload = self.signed("config/set", body)
        observer.publish(self.topic("config/set"), payload, retain=True)
        return body["n"], payload

    def command(self, observer: Observer, cmd: str, **fields: Any) -> int:
        body = {"n": next_n(), "cmd": cmd, **fields}
        observer.publish(self.topic("cmd"), self.signed("cmd", body))
        return body["n"]

    def reply(self, observer: Observer, n: int, since: int = 0, timeout: float = 10) -> Any:
        return observer.wait_json(self.topic("reply"), lambda body: body["n"] == n, timeout, since)
