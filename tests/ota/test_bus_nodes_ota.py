"""The heat-exchanger node (four DS18B20 on one 1-Wire bus) and the air-quality node (an SCD4x
and an AHT20 on one I2C bus) each run and complete an OTA update, and read again after it:
the real firmware on the real micropython, a real mosquitto and a real FTP server.

Their heap is BUS_OTA_HEAPSIZE; `MICROHOME_TEST_BUS_OTA_HEAPSIZE` tries another (docs/firmware.md,
"Memory", states the smallest that passes)."""

import os
from pathlib import Path
from typing import Any

import pytest

from microhome_tools.broker import Mosquitto
from microhome_tools.ftpd import FtpTestServer
from tests.firmware.harness import BOARD_SIZED, Observer, SimNode
from tests.firmware.test_buses import AIR, PROBES, config, hardware
from tests.ota.test_node_ota import (  # noqa: F401 (fixtures)
    B,
    announced,
    bundles,
    final_status,
    ftp_root,
    ftpd,
    observer,
    send_ota,
)

# One 4 KB step over the smallest board heap in which both complete an update (README,
# "Measured": 64K on the board model's 32-bit build, where a first reading may meet a
# MemoryError; 108K on a 64-bit one before the rare-module cut; docs/firmware.md).
BUS_OTA_HEAPSIZE = os.environ.get("MICROHOME_TEST_BUS_OTA_HEAPSIZE") or (
    "68K" if BOARD_SIZED else "112K"
)
NODES = {"heat exchanger": PROBES, "air quality": AIR}

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
def node(mosquitto: Mosquitto, vectors: dict[str, Any], tmp_path: Path) -> SimNode:
    """A node at BUS_OTA_HEAPSIZE with the simulated probes and I2C chips, not started."""
    keys = vectors["keys"]
    heap = ("--heapsize", BUS_OTA_HEAPSIZE)
    broker = (mosquitto.host, mosquitto.port)
    return SimNode(broker, tmp_path / "node", keys["node_id"], keys["node_key"], extra=heap)


@pytest.mark.parametrize("sensors", NODES.values(), ids=NODES.keys())
def test_bus_node_completes_an_update(
    node: SimNode,
    observer: Observer,  # noqa: F811
    ftpd: FtpTestServer,  # noqa: F811
    ftp_root: Path,  # noqa: F811
    sensors: list[dict[str, Any]],
) -> None:
    node.set_hw({}, **hardware())
    node.start()
    try:
        observer.wait(node.topic("status"), lambda m: m.payload == b"online", 20)
        node.push_config(observer, config(sensors))
        assert observer.wait_json(node.topic("config/state"))["ok"] is True
        first = sensors[-1]["id"]
        assert "error" not in observer.wait_json(node.topic(f"state/{first}"), timeout=20)
        mark = observer.mark()
        n = send_ota(observer, node, ftpd, ftp_root / B)
        assert node.reply(observer, n, mark)["ok"] is True
        done = final_status(observer, node, mark, 60)
        assert done == {"state": "done", "version": B, "progress": 100, "error": None}
        announced(observer, node, B, since=mark)
        later = observer.mark()
        for sensor in sensors:  # the new firmware runs the stored configuration
            state = observer.wait_json(node.topic(f"state/{sensor['id']}"), since=later, timeout=20)
            assert "error" not in state, (sensor, state)
    finally:
        node.stop()
        print(node.console()[-4000:])
