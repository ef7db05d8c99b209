"""`microhome sim` itself: several nodes, derived keys, the flash it installs, a clean stop."""

import hashlib
import hmac
import re
from pathlib import Path
from typing import Any

from microhome_tools.broker import Mosquitto
from tests.firmware.conftest import online
from tests.firmware.harness import Observer, SimNode, wait_until


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.split()[2] != "Z"


def test_count_runs_nodes_with_keys_derived_from_the_fleet_key(
    mosquitto: Mosquitto, observer: Observer, vectors: dict[str, Any], tmp_path: Path
) -> None:
    fleet_key = vectors["keys"]["fleet_key"]
    extra = ("--node-id", "kit", "--count", "2", "--fleet-key", fleet_key, "--name", "Bench")
    sim = SimNode(
        (mosquitto.host, mosquitto.port), tmp_path, "kit", "", platform="esp32", extra=extra
    ).start()
    pids = []
    try:
        for node_id in ("kit-1", "kit-2"):
            node_key = hmac.new(bytes.fromhex(fleet_key), node_id.encode(), hashlib.sha256).digest()
            announce = observer.wait_json(f"microhome/{node_id}/announce", timeout=15)
            assert announce["key_id"] == hashlib.sha256(node_key).hexdigest()[:8]
            assert announce["platform"] == "esp32"
            assert announce["name"] == "Bench"
            flash = tmp_path / node_id / "flash"
            config = (flash / "config.py").read_text()
            assert node_key.hex() in config
            assert fleet_key not in config
            assert (flash / "a" / "home" / "node.mpy").exists()  # compiled, in slot a
            assert (flash / "slot.txt").read_text() == "a"
            pids.append(int((tmp_path / node_id / "firmware.pid").read_text()))
        assert all(_alive(pid) for pid in pids)
    finally:
        sim.stop()
    wait_until(lambda: not any(_alive(pid) for pid in pids), 5, "the firmware processes to end")


def test_default_node_id_comes_from_the_simulated_unique_id(
    mosquitto: Mosquitto, observer: Observer, vectors: dict[str, Any], tmp_path: Path
) -> None:
    key = vectors["keys"]["node_key"]
    sim = SimNode((mosquitto.host, mosquitto.port), tmp_path, None, key).start()
    try:
        announce = wait_until(
            lambda: next((m for m in observer.messages if m.topic.endswith("/announce")), None),
            15,
            "an announce",
        )
        node_id = announce.json()["id"]
        assert re.fullmatch(r"mh-[0-9a-f]{6}", node_id)
        assert announce.topic == f"microhome/{node_id}/announce"
        online(observer, SimNode(sim.broker, tmp_path, node_id, key))
    finally:
        sim.stop()
    assert (tmp_path / "flash" / "main.py").exists()
