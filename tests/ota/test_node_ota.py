"""OTA on the node: the real firmware on the real micropython (`microhome sim`), a real
mosquitto and a real pyftpdlib server serving bundles built by `microhome release`."""

import hashlib
import itertools
import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from microhome_tools import FIRMWARE_DIR
from microhome_tools.broker import Mosquitto
from microhome_tools.common import node_key
from microhome_tools.ftpd import PASSWORD, USER, FtpTestServer, manifest_sha256, ota_fields
from microhome_tools.release import build_bundle
from tests.firmware.harness import (
    BOARD_SIZED,
    N_RESERVED_MS,
    OTA_HEAPSIZE,
    Observer,
    SimNode,
    next_n,
    time_passes,
    wait_until,
)

# The smallest board heap a node runs in, and completes an update in (README, "Measured": 64K
# on a 32-bit build; 104K on a 64-bit one before the rare-module cut).
SMALLEST_HEAPSIZE = "64K" if BOARD_SIZED else "104K"

A = (FIRMWARE_DIR / "home" / "version.py").read_text().split('"')[1]
B = "9.1.0"
BROKEN = "9.2.0"  # raises on import
BIG = "9.3.0"  # with a 60 kB module: a throttled server takes seconds to send it

pytestmark = pytest.mark.usefixtures("socket_enabled")


def firmware_tree(tmp: Path, version: str, broken: bool = False, big: bool = False) -> Path:
    """A copy of micropython/ whose home/version.py says `version`."""
    src = tmp / f"src-{version}"
    shutil.copytree(FIRMWARE_DIR / "home", src / "home")
    (src / "home" / "version.py").write_text(f'VERSION = "{version}"\n')
    if broken:
        node = src / "home" / "node.py"
        node.write_text(f'raise RuntimeError("{version} is broken")\n' + node.read_text())
    if big:
        (src / "home" / "blob.py").write_text(f"BLOB = {os.urandom(30_000).hex()!r}\n")
    return src


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The FTP root: bundles of B and of a BROKEN version, one directory each."""
    tmp = tmp_path_factory.mktemp("bundles")
    root = tmp / "root"
    build_bundle(firmware_tree(tmp, B), root, None)
    build_bundle(firmware_tree(tmp, BROKEN, broken=True), root, None)
    build_bundle(firmware_tree(tmp, BIG, big=True), root, None)
    return root


@pytest.fixture
def ftp_root(bundles: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ftp"
    shutil.copytree(bundles, root)
    return root


@pytest.fixture
def ftpd(ftp_root: Path) -> Iterator[FtpTestServer]:
    server = FtpTestServer(ftp_root)
    yield server
    server.stop()


@pytest.fixture
def observer(mosquitto: Mosquitto) -> Iterator[Observer]:
    watcher = Observer(mosquitto.host, mosquitto.port)
    yield watcher
    watcher.close()


NodeFactory = Callable[..., SimNode]


@pytest.fixture
def start_node(
    mosquitto: Mosquitto, vectors: dict[str, Any], tmp_path: Path
) -> Iterator[NodeFactory]:
    nodes: list[SimNode] = []

    def start(node_id: str | None = None, **kw: Any) -> SimNode:
        node = SimNode(
            (mosquitto.host, mosquitto.port),
            tmp_path / f"node{len(nodes)}",
            node_id or vectors["keys"]["node_id"],
            kw.pop("key", vectors["keys"]["node_key"]),
            extra=("--heapsize", OTA_HEAPSIZE),
            **kw,
        )
        nodes.append(node)
        return node.start()

    yield start
    for node in nodes:
        node.stop()
    for node in nodes:  # shown by pytest when the test failed
        print(f"===== {node.node_id} ({node.state_dir})\n{node.console()[-8000:]}")


def announced(
    observer: Observer, node: SimNode, version: str, since: int = 0, t: float = 20
) -> Any:
    return observer.wait_json(node.topic("announce"), lambda a: a["fw"] == version, t, since)


def send_ota(
    observer: Observer, node: SimNode, server: FtpTestServer, bundle: Path, **override: Any
) -> int:
    return node.command(observer, "ota", **(ota_fields(bundle, server.port) | override))


def statuses(observer: Observer, node: SimNode, since: int) -> list[dict[str, Any]]:
    """The node's ota/status reports since `since`, from the first one about an update."""
    seen = [m.json() for m in observer.on(node.topic("ota/status"), since)]
    while seen and seen[0]["state"] == "idle":
        seen.pop(0)
    return seen


def final_status(observer: Observer, node: SimNode, since: int, t: float = 30) -> Any:
    return observer.wait_json(
        node.topic("ota/status"),
        lambda s: s["state"] in ("done", "failed", "rolled_back"),
        t,
        since,
    )


def flash(node: SimNode) -> Path:
    return node.state_dir / "flash"


def assert_runs_complete(node: SimNode, slot: str, version: str) -> None:
    """The boot record names `slot` alone (the node tidies it once it reported), and `slot`
    holds `version`; no staging area is left."""
    root = flash(node)
    record = root / "slot.txt"
    wait_until(lambda: record.read_text() == slot, 5, f"the boot record to say {slot}")
    assert not (root / "ota").exists()  # no staging area left behind
    assert version.encode() in (root / slot / "home" / "version.mpy").read_bytes()
    manifest = root / slot / "manifest.json"
    if manifest.exists():  # installed by an update: every file of the bundle, as it was sent
        files = json.loads(manifest.read_text())["files"]
        for entry in files:
            data = (root / slot / entry["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
        installed = {p.relative_to(root / slot).as_posix() for p in (root / slot).rglob("*.mpy")}
        assert installed == {entry["path"] for entry in files}


def test_update_one_node_a_to_b(
    start_node: NodeFactory, observer: Observer, ftpd: FtpTestServer, ftp_root: Path
) -> None:
    node = start_node()
    announced(observer, node, A)
    mark = observer.mark()
    started = time.monotonic()
    n = send_ota(observer, node, ftpd, ftp_root / B)
    assert node.reply(observer, n, mark)["ok"] is True
    done = final_status(observer, node, mark)
    took = time.monotonic() - started
    assert done == {"state": "done", "version": B, "progress": 100, "error": None}
    announced(observer, node, B, since=mark)
    print(f"one node {A} -> {B}: {took:.2f} s")

    seen = statuses(observer, node, mark)
    states = [s["state"] for s in seen]
    assert states[0] == "downloading"
    order = ["downloading", "verifying", "applying", "rebooting", "done"]
    assert [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s] == order
    progress = [s["progress"] for s in seen if s["state"] == "downloading"]
    assert progress == sorted(progress)
    assert progress[0] == 0
    assert progress[-1] == 100
    assert max(b - a for a, b in itertools.pairwise(progress)) <= 10

    assert_runs_complete(node, "b", B)
    # A ran no update itself: it restarted into the lean updater, which installed B.
    console = (node.state_dir / "console.log").read_text()
    updater = console.index(f"I updater: running the update to {B}")
    assert console.index(f"update to {B}: restarting into the updater") < updater
    installed = console.index(f"{B} installed in b/, rebooting")
    assert updater < installed < console.index(f"firmware {B} on trial")
    # a later reboot keeps B: it is no longer on trial
    mark = observer.mark()
    node.command(observer, "reboot")
    announced(observer, node, B, since=mark + 1)
    assert (flash(node) / "slot.txt").read_text() == "b"


def test_update_ten_nodes_at_once(
    *,
    mosquitto: Mosquitto,
    vectors: dict[str, Any],
    tmp_path: Path,
    observer: Observer,
    ftpd: FtpTestServer,
    ftp_root: Path,
) -> None:
    fleet = vectors["keys"]["fleet_key"]
    broker = (mosquitto.host, mosquitto.port)
    extra = ("--count", "10", "--node-id", "ota", "--fleet-key", fleet, "--heapsize", OTA_HEAPSIZE)
    sim = SimNode(broker, tmp_path / "fleet", "ota", fleet, extra=extra)
    ids = [f"ota-{i}" for i in range(1, 11)]
    nodes = [
        SimNode(broker, tmp_path / "fleet" / i, i, node_key(bytes.fromhex(fleet), i).hex())
        for i in ids
    ]
    sim.start()
    try:
        for node in nodes:
            announced(observer, node, A, t=30)
        mark = observer.mark()
        started = time.monotonic()
        for node in nodes:
            send_ota(observer, node, ftpd, ftp_root / B)
        for node in nodes:
            assert final_status(observer, node, mark, t=60)["state"] == "done"
        took = time.monotonic() - started
        for node in nodes:
            announced(observer, node, B, since=mark)
            assert_runs_complete(node, "b", B)
        print(f"10 nodes {A} -> {B}: {took:.2f} s")
    finally:
        sim.stop()


def test_ftp_server_stopped_mid_transfer(
    start_node: NodeFactory, observer: Observer, ftp_root: Path
) -> None:
    server = FtpTestServer(ftp_root, write_limit=10_000)  # 10 kB/s: BIG takes seconds
    try:
        node = start_node()
        announced(observer, node, A)
        mark = observer.mark()
        send_ota(observer, node, server, ftp_root / BIG)
        observer.wait_json(
            node.topic("ota/status"),
            lambda s: s["state"] == "downloading" and s["progress"] >= 10,
            30,
            mark,
        )
    finally:
        server.stop()
    failed = final_status(observer, node, mark)
    assert failed["state"] == "failed"
    assert failed["error"].startswith("RETR /9.3.0/home/")
    assert failed["progress"] < 100
    assert_runs_complete(node, "a", A)
    assert not (flash(node) / "b").exists()
    check_still_works(observer, node)


def back_online(observer: Observer, node: SimNode) -> None:
    """The application runs again after the updater's reset: its status is `online`."""
    wait_until(
        lambda: observer.on(node.topic("status"))[-1].payload == b"online",
        30,
        "the node back online",
    )


def check_still_works(observer: Observer, node: SimNode) -> None:
    back_online(observer, node)
    mark = observer.mark()
    n = node.command(observer, "announce")
    assert node.reply(observer, n, mark)["ok"] is True
    assert announced(observer, node, A, since=mark)["fw"] == A


def test_a_file_with_a_wrong_hash_stops_the_update(
    start_node: NodeFactory, observer: Observer, ftpd: FtpTestServer, ftp_root: Path
) -> None:
    target = ftp_root / B / "home" / "wifi.mpy"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes
    target.write_bytes(bytes(data))
    node = start_node()
    announced(observer, node, A)
    mark = observer.mark()
    send_ota(observer, node, ftpd, ftp_root / B)
    failed = final_status(observer, node, mark)
    assert failed["state"] == "failed"
    assert failed["error"] == "home/wifi.mpy: sha256 mismatch"
    assert_runs_complete(node, "a", A)
    check_still_works(observer, node)


def test_a_wrong_manifest_hash_stops_the_update(
    start_node: NodeFactory, observer: Observer, ftpd: FtpTestServer, ftp_root: Path
) -> None:
    node = start_node()
    announced(observer, node, A)
    mark = observer.mark()
    send_ota(observer, node, ftpd, ftp_root / B, manifest_sha256="ab" * 32)
    failed = final_status(observer, node, mark)
    assert failed == {
        "state": "failed",
        "version": B,
        "progress": 0,
        "error": "manifest.json: sha256 mismatch",
    }
    assert_runs_complete(node, "a", A)


def test_not_enough_flash_refuses_the_update(
    start_node: NodeFactory, observer: Observer, ftpd: FtpTestServer, ftp_root: Path
) -> None:
    node = start_node()
    node.set_hw({}, flash_free=20_000)
    announced(observer, node, A)
    mark = observer.mark()
    send_ota(observer, node, ftpd, ftp_root / B)
    failed = final_status(observer, node, mark)
    assert failed["state"] == "failed"
    assert failed["error"].startswith("not enough flash: the bundle needs ")
    assert failed["error"].endswith(" bytes, 20000 free")
    states = [s["state"] for s in statuses(observer, node, mark)]
    assert [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s] == [
        "downloading",
        "failed",
    ]
    assert_runs_complete(node, "a", A)


@pytest.mark.parametrize(
    ("point", "runs"),
    [("updater", A), ("download", A), ("staged", A), ("switch", A), ("switched", B)],
)
def test_killed_while_applying_runs_a_complete_a_or_b(
    *,
    start_node: NodeFactory,
    observer: Observer,
    ftpd: FtpTestServer,
    ftp_root: Path,
    point: str,
    runs: str,
) -> None:
    node = start_node()
    node.set_hw({}, ota_pause=point)
    announced(observer, node, A)
    mark = observer.mark()
    send_ota(observer, node, ftpd, ftp_root / B)
    console = node.state_dir / "console.log"
    wait_until(lambda: f"ota: paused at {point}" in console.read_text(), 30, f"the {point} pause")
    node.set_hw({})  # the next boot must not stop there again
    os.kill(node.firmware_pid(), signal.SIGKILL)  # power lost at that moment
    # After a power cut the node refuses every n up to the mark it reserved on the flash
    # (docs/protocol.md), which Home Assistant's clock passes a minute later.
    time_passes(N_RESERVED_MS)
    announced(observer, node, runs, since=mark + 1)
    status = final_status(observer, node, mark)
    if runs == B:
        assert status["state"] == "done"
        assert_runs_complete(node, "b", B)
    else:
        assert status["state"] == "failed"
        assert status["error"] == f"update to {B} interrupted; still on {A}"
        assert_runs_complete(node, "a", A)
        check_still_works(observer, node)


def test_a_version_that_fails_to_start_is_rolled_back_after_three_boots(
    start_node: NodeFactory, observer: Observer, ftpd: FtpTestServer, ftp_root: Path
) -> None:
    node = start_node()
    announced(observer, node, A)
    mark = observer.mark()
    send_ota(observer, node, ftpd, ftp_root / BROKEN)
    status = final_status(observer, node, mark, t=60)
    assert status["state"] == "rolled_back"
    assert status["version"] == BROKEN
    assert status["error"].startswith(f"{BROKEN} did not reach the broker in 3 boots; back on {A}")
    assert status["error"].endswith(f"RuntimeError: {BROKEN} is broken")
    console = (node.state_dir / "console.log").read_text()
    assert console.count(f"RuntimeError: {BROKEN} is broken") >= 3
    assert_runs_complete(node, "a", A)
    check_still_works(observer, node)


def test_an_ota_command_with_a_wrong_signature_is_refused(
    start_node: NodeFactory, observer: Observer, ftpd: FtpTestServer, ftp_root: Path
) -> None:
    node = start_node()
    announced(observer, node, A)
    mark = observer.mark()
    bundle = ftp_root / B
    body = {
        "n": next_n(), "cmd": "ota", "version": B, "host": "127.0.0.1", "port": ftpd.port,
        "user": USER, "password": PASSWORD, "path": f"/{B}",
        "manifest_sha256": manifest_sha256(bundle),
    }  # fmt: skip
    observer.publish(node.topic("cmd"), node.signed("cmd", body, key=bytes(32)))
    reply = node.reply(observer, body["n"], mark)
    assert reply == {"n": body["n"], "ok": False, "error": "bad signature"}
    time.sleep(1)
    assert statuses(observer, node, mark) == []
    assert_runs_complete(node, "a", A)


def test_an_update_completes_in_the_smallest_heap_a_node_runs_in(
    *,
    mosquitto: Mosquitto,
    vectors: dict[str, Any],
    tmp_path: Path,
    observer: Observer,
    ftpd: FtpTestServer,
    ftp_root: Path,
) -> None:
    # The lean updater runs before the application is imported: an update needs no more heap
    # than the node itself.
    node = SimNode(
        (mosquitto.host, mosquitto.port),
        tmp_path / "small",
        vectors["keys"]["node_id"],
        vectors["keys"]["node_key"],
        extra=("--heapsize", SMALLEST_HEAPSIZE),
    ).start()
    try:
        announced(observer, node, A)
        mark = observer.mark()
        send_ota(observer, node, ftpd, ftp_root / B)
        assert final_status(observer, node, mark) == {
            "state": "done",
            "version": B,
            "progress": 100,
            "error": None,
        }
        assert_runs_complete(node, "b", B)
        assert "MemoryError" not in (node.state_dir / "console.log").read_text()
    finally:
        node.stop()
