"""The sim's board model (docs/firmware.md, "Memory"): the heap a node is given is a board's.
The simulated hardware (a board's ROM modules) is loaded before the firmware and counted out,
so the free heap the firmware has, and reports, is what a board with that heap would have, on
every boot and whatever the node has configured; a heap too small for the firmware still fails.
The real firmware on the real micropython, a real mosquitto."""

import json
import os
from pathlib import Path
from typing import Any

from microhome_tools.bench_node import AIR, bus_hardware
from microhome_tools.sim import SIMULATED_HARDWARE, board_free, heap_bytes
from tests.firmware.conftest import NodeFactory, online
from tests.firmware.harness import HEAPSIZE, MICROPYTHON, Observer, SimNode, wait_until
from tests.firmware.test_buses import config

# A heap one GC block off from another board's free heap is the model's rounding.
MARGIN = 64
BIGGER = f"{heap_bytes(HEAPSIZE) // 1024 + 16}K"
TOO_SMALL = f"{heap_bytes(HEAPSIZE) // 2048}K"


def board(node: SimNode) -> Any:
    """What sim/board.py counted out at the node's last boot, and left the firmware."""
    return json.loads((node.state_dir / "board.json").read_text())


def telemetry(observer: Observer, node: SimNode, since: int = 0) -> Any:
    return observer.wait_json(node.topic("telemetry"), since=since, timeout=20)


def test_the_firmware_starts_with_a_boards_free_heap(
    start_node: NodeFactory, observer: Observer
) -> None:
    node = start_node(extra=("--heapsize", HEAPSIZE))
    online(observer, node)
    counted = board(node)
    # a board's heap less what its interpreter holds when main.py starts (measured in a
    # micropython with exactly this heap), less the library the firmware would load itself
    expected = board_free(MICROPYTHON, HEAPSIZE, dict(os.environ)) - counted["library"]
    assert abs(counted["free"] - expected) <= MARGIN
    # every simulated module was loaded before, with machine's static pins and PWMs and its
    # poller's buffers (20 KB on the board model's build, which has their code frozen in as a
    # board has it in ROM; 36 KB with their code on Debian's 32-bit build)
    assert counted["hardware"] > 14_000
    assert "machine" in SIMULATED_HARDWARE and "i2c" in SIMULATED_HARDWARE


def test_the_free_heap_reported_follows_the_boards_heap(
    start_node: NodeFactory, observer: Observer, tmp_path: Path
) -> None:
    """A node given 16 KB more heap reports 16 KB more free: nothing of the simulation is in
    the figure the user sees."""
    reported = {}
    for heap in (HEAPSIZE, BIGGER):
        node = start_node(extra=("--heapsize", heap), state_dir=tmp_path / heap)
        mark = observer.mark()
        online(observer, node, mark)
        reported[heap] = telemetry(observer, node, mark)["mem_free"]
        node.stop()
    env = dict(os.environ)
    more = board_free(MICROPYTHON, BIGGER, env) - board_free(MICROPYTHON, HEAPSIZE, env)
    assert more > 15 * 1024
    assert abs(reported[BIGGER] - reported[HEAPSIZE] - more) <= 4 * MARGIN


def test_a_bus_node_starts_from_the_same_free_heap_and_keeps_it_after_a_reboot(
    start_node: NodeFactory, observer: Observer
) -> None:
    """What a node configures does not change the accounting: a node with the I2C bus
    simulation in use starts every boot with the free heap of one without."""
    plain = start_node(extra=("--heapsize", HEAPSIZE))
    online(observer, plain)
    plain_board = board(plain)
    plain.stop()
    node = start_node(extra=("--heapsize", HEAPSIZE))
    node.set_hw({}, **bus_hardware())
    online(observer, node)
    node.push_config(observer, config(AIR))
    assert observer.wait_json(node.topic("config/state"))["ok"] is True
    room = observer.wait_json(node.topic("state/room"), timeout=20)
    assert abs(room["temperature"] - 21.5) < 0.05
    mark = observer.mark()
    node.command(observer, "reboot")
    online(observer, node, mark)
    assert observer.wait_json(node.topic("state/room"), since=mark, timeout=20)["humidity"] > 0
    assert board(node) == plain_board  # the same accounting after the reboot, buses in use


def test_a_heap_too_small_for_the_firmware_still_fails(
    start_node: NodeFactory, observer: Observer
) -> None:
    """The board model takes nothing from the firmware's share: at half the heap the firmware
    runs out of memory at every boot, as a board would, and never comes online."""
    node = start_node("heap-too-small", extra=("--heapsize", TOO_SMALL))
    wait_until(lambda: node.console().count("MemoryError") >= 3, 30, "boots out of memory")
    assert node.console().count("--- reset ---") >= 2  # it reboots, as a board does
    assert not observer.on(node.topic("status"))
    assert board(node)["free"] < heap_bytes(TOO_SMALL)
