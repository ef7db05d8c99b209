"""OTA end to end: Home Assistant with the real MQTT integration and MicroHome's own FTP server,
a real mosquitto and a real simulated node (the firmware on micropython) that updates itself."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er

from custom_components.microhome.const import DOMAIN
from custom_components.microhome.keys import STORAGE_KEY, STORAGE_VERSION
from custom_components.microhome.settings import STORAGE_KEY as SETTINGS_KEY
from microhome_tools import FIRMWARE_DIR
from microhome_tools.release import build_bundle
from tests.broker import Mosquitto
from tests.firmware.harness import OTA_HEAPSIZE, SimNode
from tests.real_mqtt import async_setup_real_mqtt, wait_for

pytestmark = pytest.mark.usefixtures("socket_enabled", "mock_hass_config")

A = (FIRMWARE_DIR / "home" / "version.py").read_text().split('"')[1]
B, C = "9.1.0", "9.4.0"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/."""


@pytest.fixture(autouse=True)
def frontend_loaded(hass: HomeAssistant) -> None:
    """`frontend` counts as set up: panel_custom needs only its panel registry."""
    hass.config.components.add("frontend")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def settings(
    hass: HomeAssistant, hass_storage: dict[str, Any], vectors: dict[str, Any], tmp_path: Path
) -> None:
    """The fleet key of the vectors; FTP on free ports, reached by the node at 127.0.0.1;
    bundles B and C in <config>/microhome/firmware."""
    hass_storage[STORAGE_KEY] = {
        "version": STORAGE_VERSION,
        "minor_version": 1,
        "key": STORAGE_KEY,
        "data": {"fleet_key": vectors["keys"]["fleet_key"]},
    }
    passive = free_port()
    hass_storage[SETTINGS_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": SETTINGS_KEY,
        "data": {
            "ftp_port": free_port(),
            "ftp_passive_ports": [passive, passive],
            "ha_address": "127.0.0.1",
        },
    }
    hass.config.config_dir = str(tmp_path / "config")
    bundles = Path(hass.config.path("microhome", "firmware"))
    for version in (B, C):
        src = tmp_path / f"src-{version}"
        shutil.copytree(FIRMWARE_DIR / "home", src / "home")
        (src / "home" / "version.py").write_text(f'VERSION = "{version}"\n')
        build_bundle(src, bundles, None)


@pytest.fixture
def node(mosquitto: Mosquitto, vectors: dict[str, Any], tmp_path: Path) -> Iterator[SimNode]:
    keys = vectors["keys"]
    sim = SimNode(
        (mosquitto.host, mosquitto.port),
        tmp_path / "node",
        keys["node_id"],
        keys["node_key"],
        extra=("--heapsize", OTA_HEAPSIZE),
    )
    sim.start()
    yield sim
    sim.stop()
    print(sim.console()[-6000:])  # shown when the test failed


async def test_update_entity_and_service_update_a_real_node(
    hass: HomeAssistant, mosquitto: Mosquitto, settings: None, node: SimNode
) -> None:
    mqtt_entry = await async_setup_real_mqtt(hass, mosquitto)

    # The node's retained announce starts discovery; the user adds it.
    flow = await wait_for(
        hass,
        lambda: next(iter(hass.config_entries.flow.async_progress_by_handler(DOMAIN)), None),
    )
    result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    await wait_for(hass, lambda: entry.runtime_data.online)

    update = er.async_get(hass).async_get_entity_id("update", DOMAIN, f"{node.node_id}_firmware")
    assert update is not None
    state = await wait_for(hass, lambda: hass.states.get(update))
    assert state.state == "on"
    assert state.attributes["installed_version"] == A
    assert state.attributes["latest_version"] == C

    # The entity's install, with a chosen version: A -> B.
    await hass.services.async_call(
        "update", "install", {ATTR_ENTITY_ID: update, "version": B}, blocking=True
    )
    state = await wait_for(
        hass,
        lambda: (s := hass.states.get(update)) and s.attributes["installed_version"] == B and s,
    )
    assert state.state == "on"  # C is newer still

    # The service, for the newest bundle: B -> C; the node reports done and announces C.
    response = await hass.services.async_call(
        DOMAIN,
        "ota_update",
        {ATTR_ENTITY_ID: [update]},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    result = response["nodes"][node.node_id]  # type: ignore[index]
    assert (result["result"], result["version"], result["from_version"]) == ("done", C, B)
    assert result["error"] is None
    state = await wait_for(
        hass,
        lambda: (s := hass.states.get(update)) and s.attributes["installed_version"] == C and s,
    )
    assert state.state == "off"
    # The node confirms its trial right after it announced C: a, b, then a again.
    slot = node.state_dir / "flash" / "slot.txt"
    await wait_for(hass, lambda: slot.read_text() == "a", within=10)
    assert not (node.state_dir / "flash" / "ota").exists()

    await hass.config_entries.async_unload(entry.entry_id)
    await hass.config_entries.async_unload(mqtt_entry.entry_id)
    await hass.async_block_till_done()
