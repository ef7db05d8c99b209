"""`microhome demo` (what `make demo` runs): everything comes up, and a second run carries on."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from microhome_tools.common import free_port

pytestmark = pytest.mark.usefixtures("socket_enabled")


def run_demo(state: Path, port: int, mqtt_port: int) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable, "-m", "microhome_tools.cli", "demo", "--dir", str(state),
        "--port", str(port), "--mqtt-port", str(mqtt_port), "--exit-when-ready",
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=400, check=False)


def test_demo_comes_up_configured_and_keeps_its_state(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    port, mqtt_port = free_port(), free_port()
    first = run_demo(state, port, mqtt_port)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"MQTT broker: mosquitto on 127.0.0.1:{mqtt_port}" in first.stdout
    assert "discovered and configured" in first.stdout
    credentials = json.loads((state / "credentials.json").read_text())
    assert credentials["url"] == f"http://127.0.0.1:{port}"
    assert credentials["password"] in first.stdout
    assert sorted(json.loads((state / "configured.json").read_text())) == [
        "bedroom",
        "cellar",
        "hallway",
        "living-room",
        "study",
    ]
    for node in ("living-room", "hallway", "cellar", "bedroom", "study"):
        assert (state / "nodes" / node / "flash").is_dir()
    # Bedroom and study follow the profile "Room sensor", made of the bedroom's configuration.
    storage = state / "config" / ".storage"
    (profile,) = json.loads((storage / "microhome.profiles").read_text())["data"]["profiles"]
    assert (profile["name"], [p["id"] for p in profile["sensors"]]) == (
        "Room sensor",
        ["climate", "lamp"],
    )
    entries = json.loads((storage / "core.config_entries").read_text())["data"]["entries"]
    following = {e["unique_id"] for e in entries if e["options"].get("profile") == profile["id"]}
    assert following == {"bedroom", "study"}
    study = next(e for e in entries if e["unique_id"] == "study")
    assert study["options"]["name"] == "Study"
    assert [s["pin"] for s in study["options"]["sensors"]] == [15, 14]

    second = run_demo(state, port, mqtt_port)
    assert second.returncode == 0, second.stdout + second.stderr
    assert json.loads((state / "credentials.json").read_text()) == credentials
    leftovers = subprocess.run(
        ["pgrep", "-f", str(state)], capture_output=True, text=True, check=False
    )
    assert leftovers.stdout == "", "processes left behind: " + leftovers.stdout
