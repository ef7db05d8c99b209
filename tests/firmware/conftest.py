"""Fixtures for the firmware tests: simulated nodes on the real micropython, a paho observer."""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from microhome_tools.broker import Mosquitto
from tests.firmware.harness import Observer, SimNode

NodeFactory = Callable[..., SimNode]


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """The observer and the broker check talk to 127.0.0.1 from this process."""


@pytest.fixture
def observer(mosquitto: Mosquitto) -> Iterator[Observer]:
    watcher = Observer(mosquitto.host, mosquitto.port)
    yield watcher
    watcher.close()


@pytest.fixture
def start_node(
    mosquitto: Mosquitto, vectors: dict[str, Any], tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[NodeFactory]:
    """Start `microhome sim` nodes; all are stopped at the end, their consoles shown on failure."""
    nodes: list[SimNode] = []

    def start(
        node_id: str | None = None, platform: str = "rp2", state_dir: Path | None = None, **kw: Any
    ) -> SimNode:
        node = SimNode(
            (mosquitto.host, mosquitto.port),
            state_dir or tmp_path / f"node{len(nodes)}",
            node_id or vectors["keys"]["node_id"],
            kw.pop("key", vectors["keys"]["node_key"]),
            platform=platform,
            **kw,
        )
        nodes.append(node)
        return node.start()

    yield start
    for node in nodes:
        node.stop()
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for node in nodes:
            print(f"===== console of {node.node_id} ({node.state_dir})\n{node.console()[-6000:]}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


CONFIG: dict[str, Any] = {
    "version": 1,
    "name": "Kitchen",
    "telemetry_interval": 5,
    "log_level": "I",
    "sensors": [
        {"id": "climate", "type": "dht22", "pin": 15, "interval": 2},
        {"id": "pir", "type": "motion", "pin": 16, "off_delay": 1},
        {"id": "lamp", "type": "led", "pin": 14, "freq": 1000},
        {"id": "status", "type": "status_led", "pin": "LED"},
    ],
}
HARDWARE: dict[str, Any] = {"15": {"temperature": 21.5, "humidity": 40.2}, "16": 0}


def online(observer: Observer, node: SimNode, since: int = 0, timeout: float = 15) -> None:
    observer.wait(node.topic("status"), lambda m: m.payload == b"online", timeout, since)


@pytest.fixture
def configured(start_node: NodeFactory, observer: Observer) -> SimNode:
    """A node running CONFIG with HARDWARE attached."""
    node = start_node()
    node.set_hw(HARDWARE)
    online(observer, node)
    node.push_config(observer, CONFIG)
    state = observer.wait_json(node.topic("config/state"))
    assert state == {"version": 1, "ok": True, "errors": []}
    return node
