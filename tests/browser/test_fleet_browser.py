"""The panel's Nodes page in headless Chromium: real Home Assistant, mosquitto and three real
firmware nodes. Discovered nodes are added in bulk with a profile made of a configured node,
the profile is edited (a node's override survives, then is reset), then two are updated to a
new firmware, with progress shown per node.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from microhome_tools.broker import Mosquitto
from microhome_tools.demo import (
    OTA_HEAPSIZE,
    DemoNode,
    DemoSensor,
    accept_discovered,
    configure,
)
from microhome_tools.hass_runner import HassRunner
from microhome_tools.release import build_bundle
from microhome_tools.sim import sim_command
from tests.sim_nodes import running

from .test_panel_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    TIMEOUT_MS,
    USER,
    log_in,
    stop_and_check_log,
)

# The README's screenshot of the Nodes page: MICROHOME_SCREENSHOTS=1 refreshes it.
SCREENSHOT = REPO / "docs" / "screenshot-nodes.png"
NODES = ("fleet-1", "fleet-2", "fleet-3")
CLIMATE = DemoSensor("dht22", "Climate", 15, {"interval": 5})
LAMP = DemoSensor("led", "Lamp", 14, {"freq": 1000})
FIRST = DemoNode("fleet-1", "fleet-1", "rp2", [CLIMATE, LAMP])
NEW_FIRMWARE = "9.9.9"
OTA_TIMEOUT_MS = 300_000

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
def hass_fleet(tmp_path: Path, mosquitto: Mosquitto, fleet_key: bytes) -> Iterator[HassRunner]:
    """Home Assistant with MQTT on the test broker, no nodes yet, firmware 9.9.9 offered."""
    runner = HassRunner(tmp_path / "config", fleet_key=fleet_key)
    runner.prepare()
    build_bundle(REPO / "micropython", runner.config_dir / "microhome" / "firmware", NEW_FIRMWARE)
    runner.start()
    try:
        runner.onboard(USER, "correct-horse-battery")
        runner.add_mqtt_broker(mosquitto.host, mosquitto.port)
        runner.wait_for_entry("mqtt")
        yield runner
    finally:
        stop_and_check_log(runner)


@pytest.fixture
def firmware_nodes(
    tmp_path: Path, mosquitto: Mosquitto, fleet_key: bytes, hass_fleet: HassRunner
) -> Iterator[None]:
    """Three real firmware nodes, with the heap an update needs."""
    commands = {}
    for node_id in NODES:
        state = tmp_path / node_id
        state.mkdir()
        (state / "hw.json").write_text('{"pins": {"15": {"temperature": 21.5, "humidity": 40}}}')
        commands[node_id] = sim_command(
            f"{mosquitto.host}:{mosquitto.port}", state, "--node-id", node_id,
            "--fleet-key", fleet_key.hex(), "--heapsize", OTA_HEAPSIZE,
        )  # fmt: skip
    with running(commands, tmp_path):
        yield


def test_bulk_add_with_a_profile_and_bulk_firmware_update(
    hass_fleet: HassRunner, firmware_nodes: None
) -> None:
    # The first node is added in Home Assistant's own UI: that sets MicroHome up.
    first_entry = accept_discovered(hass_fleet, {"fleet-1"}, timeout=120)["fleet-1"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            log_in(page, hass_fleet)
            run_scenario(page, hass_fleet, first_entry)
        finally:
            browser.close()


def run_scenario(page: Page, runner: HassRunner, first_entry: str) -> None:
    panel = page.locator("microhome-panel")
    panel.locator("#tab-fleet").click()

    def row(node_id: str) -> Any:
        return panel.locator(f'#fleet-rows tr[data-node="{node_id}"]')

    for node_id in NODES[1:]:
        expect(row(node_id).locator(".status-cell")).to_have_text("discovered", timeout=TIMEOUT_MS)

    # The first node is configured; its configuration becomes a profile.
    expect(row("fleet-1").locator(".status-cell")).to_have_text("online", timeout=TIMEOUT_MS)
    configure(runner, first_entry, FIRST)
    expect(row("fleet-1").locator(".config")).to_have_text("applied", timeout=TIMEOUT_MS)
    panel.locator("#profile-name").fill("Room sensor")
    panel.locator("#profile-source").select_option(label="fleet-1")
    panel.locator("#profile-create").click()
    profile = panel.locator('#profile-rows tr[data-profile="room_sensor"]')
    expect(profile.locator(".followers")).to_have_text("1", timeout=TIMEOUT_MS)

    # The two other discovered nodes are added in one go, following the profile.
    panel.locator("#fleet-status").select_option("discovered")
    expect(panel.locator("#fleet-rows tr")).to_have_count(2, timeout=TIMEOUT_MS)
    panel.locator("#fleet-all").check()
    expect(panel.locator("#fleet-selected")).to_have_text("2 selected")
    panel.locator("#bulk-profile").select_option("room_sensor")
    panel.locator("#bulk-add").click()
    shows_message(panel, "Adding: 2 nodes done.")
    panel.locator("#fleet-status").select_option("")
    for node_id in ("fleet-2", "fleet-3"):
        expect(row(node_id).locator(".profile")).to_have_text("Room sensor", timeout=TIMEOUT_MS)
        expect(row(node_id).locator(".config")).to_have_text("applied", timeout=TIMEOUT_MS)
    expect(profile.locator(".followers")).to_have_text("3", timeout=TIMEOUT_MS)
    assert [e["state"] for e in runner.config_entries("microhome")] == ["loaded"] * 3

    # Filtering by profile keeps the followers; the selection survives.
    panel.locator("#fleet-profile").select_option("room_sensor")
    expect(panel.locator("#fleet-rows tr")).to_have_count(3, timeout=TIMEOUT_MS)
    panel.locator("#fleet-profile").select_option("")

    edit_the_profile(panel, row, profile)

    # Two nodes get firmware 9.9.9: each row shows its progress, then its result.
    row("fleet-1").locator("input[type=checkbox]").uncheck()
    expect(panel.locator("#fleet-selected")).to_have_text("2 selected")
    panel.locator("#bulk-ota").click()
    expect(panel.locator("#fleet-rows progress").first).to_be_visible(timeout=OTA_TIMEOUT_MS)
    for node_id in ("fleet-2", "fleet-3"):
        expect(row(node_id).locator(".result")).to_have_text(
            f"done: firmware {NEW_FIRMWARE}", timeout=OTA_TIMEOUT_MS
        )
    shows_message(panel, "Updating firmware: 2 nodes done.")
    for node_id in ("fleet-2", "fleet-3"):
        expect(row(node_id).locator(".firmware")).to_have_text(NEW_FIRMWARE, timeout=TIMEOUT_MS)
    expect(row("fleet-1").locator(".firmware")).not_to_have_text(NEW_FIRMWARE)
    page.wait_for_timeout(300)
    shot = page.screenshot(
        path=str(SCREENSHOT) if os.environ.get("MICROHOME_SCREENSHOTS") == "1" else None
    )
    assert shot.startswith(b"\x89PNG")


def edit_the_profile(panel: Any, row: Any, profile: Any) -> None:
    """Name, interval and log level edited in the Profiles card reach every follower; fleet-2's
    override (set by the apply_profile websocket command) survives and is then reset."""

    def call(message: dict[str, Any]) -> Any:
        """A websocket command on the panel's own connection."""
        return panel.evaluate("(panel, message) => panel.hass.callWS(message)", message)

    entry_ids = {
        node["id"]: node["entry_id"] for node in call({"type": "microhome/nodes/list"})["nodes"]
    }
    call(
        {
            "type": "microhome/nodes/apply_profile",
            "entry_ids": [entry_ids["fleet-2"]],
            "profile": "room_sensor",
            "overrides": {"fleet-2": {"lamp": {"freq": 500}}},
        }
    )
    panel.locator("#tab-fleet").click()  # shows the override at once
    overrides = row("fleet-2").locator(".overrides")
    expect(overrides).to_contain_text("Overrides: lamp (freq)", timeout=TIMEOUT_MS)
    expect(row("fleet-1").locator(".overrides")).to_have_count(0)

    # A name of spaces is refused with the integration's reason; nothing is sent.
    profile.locator("button.edit").click()
    editor = panel.locator("#profile-editor")
    expect(panel.locator("#edit-title")).to_have_text("Edit the profile Room sensor (rp2)")
    expect(panel.locator("#edit-interval")).to_have_value("60")
    panel.locator("#edit-name").fill("   ")
    panel.locator("#edit-save").click()
    expect(panel.locator("#edit-message")).to_have_text(
        "Not saved: The profile is not valid: name: 1-64 characters", timeout=TIMEOUT_MS
    )
    panel.locator("#edit-name").fill("Room sensor <b>v2</b>")
    panel.locator("#edit-interval").fill("30")
    panel.locator("#edit-log-level").select_option(label="Warning")
    panel.locator("#edit-source").select_option(label="From fleet-1")
    panel.locator("#edit-save").click()
    shows_message(panel, "Updating profile Room sensor <b>v2</b>: 3 nodes done.")
    expect(editor).to_be_hidden()
    for node_id in NODES:
        expect(row(node_id).locator(".result")).to_have_text("pending")
        expect(row(node_id).locator(".profile")).to_have_text(
            "Room sensor <b>v2</b>", timeout=TIMEOUT_MS
        )
        expect(row(node_id).locator(".config")).to_have_text("applied", timeout=TIMEOUT_MS)
    expect(overrides).to_contain_text("Overrides: lamp (freq)")
    (edited,) = call({"type": "microhome/profiles/list"})["profiles"]
    assert (edited["telemetry_interval"], edited["log_level"]) == (30, "W")

    # fleet-2 follows the profile without its override again.
    overrides.locator("button").click()
    shows_message(panel, "Resetting the overrides of fleet-2: 1 node done.")
    expect(overrides).to_have_count(0, timeout=TIMEOUT_MS)
    expect(row("fleet-2").locator(".config")).to_have_text("applied", timeout=TIMEOUT_MS)
    nodes = call({"type": "microhome/nodes/list"})["nodes"]
    assert [node["overrides"] for node in nodes if node["id"] in NODES] == [{}, {}, {}]


def shows_message(panel: Any, text: str) -> None:
    """The Nodes page's message line says text (once the action is done)."""
    expect(panel.locator("#fleet-message")).to_have_text(text, timeout=TIMEOUT_MS)
