"""The MicroHome panel in headless Chromium, against a real Home Assistant and a real node.

A real `hass` process (tools/microhome_tools/hass_runner.py) with MicroHome and MQTT on a
real mosquitto, one real firmware node (`microhome sim`, the firmware on the micropython
unix port), and Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.publish as mqtt_publish
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from custom_components.microhome import protocol
from microhome_tools.broker import Mosquitto
from microhome_tools.hass_runner import HassRunner
from microhome_tools.sim import sim_command

REPO = Path(__file__).resolve().parents[2]
# The README's screenshot is refreshed by MICROHOME_SCREENSHOTS=1 scripts/env pytest tests/browser.
SCREENSHOT = REPO / "docs" / "screenshot-panel.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NODE_ID = "mh-panel"
USER = "admin"
PASSWORD = "correct-horse-battery"
XSS = "<img src=x onerror=alert(1)>"
XSS_FLAG = '<img src=x onerror="window.microhomeXss=1">'
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture
def hass_process(tmp_path: Path, mosquitto: Mosquitto, fleet_key: bytes) -> Iterator[HassRunner]:
    """Home Assistant, onboarded, with MQTT on the test broker and the node added."""
    if importlib.util.find_spec("hass_frontend") is None:
        pytest.fail("the home-assistant-frontend package (hass_frontend) is not installed")
    runner = HassRunner(tmp_path / "config", fleet_key=fleet_key)
    runner.prepare()
    runner.start()
    try:
        runner.onboard(USER, PASSWORD)
        runner.add_mqtt_broker(mosquitto.host, mosquitto.port)
        runner.wait_for_entry("mqtt")
        runner.add_microhome_node(NODE_ID, "rp2")
        runner.wait_for_entry("microhome")
        yield runner
    finally:
        stop_and_check_log(runner)


def stop_and_check_log(runner: HassRunner) -> None:
    """Stop Home Assistant; MicroHome must have logged no error and no traceback."""
    runner.stop()
    log = runner.output_tail(400)
    errors = [line for line in log.splitlines() if "custom_components.microhome" in line]
    assert not [line for line in errors if " ERROR " in line or "Traceback" in line], log


@pytest.fixture
def node(
    tmp_path: Path, mosquitto: Mosquitto, fleet_key: bytes, hass_process: HassRunner
) -> Iterator[subprocess.Popen[bytes]]:
    """One real firmware node on the micropython unix port, as an rp2."""
    console = (tmp_path / "sim.log").open("wb")
    process = subprocess.Popen(
        sim_command(
            f"{mosquitto.host}:{mosquitto.port}",
            tmp_path / "node",
            "--node-id",
            NODE_ID,
            "--platform",
            "rp2",
            "--fleet-key",
            fleet_key.hex(),
        ),
        stdout=console,
        stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    console.close()


def send_command(mosquitto: Mosquitto, fleet_key: bytes, cmd: str) -> None:
    """A signed command to the node, as Home Assistant would send it."""
    key = protocol.node_key(fleet_key, NODE_ID)
    topic = protocol.topic(NODE_ID, "cmd")
    body = protocol.command_body(int(time.time() * 1000), cmd)
    mqtt_publish.single(
        topic,
        protocol.signed_payload(key, topic, body),
        qos=1,
        hostname=mosquitto.host,
        port=mosquitto.port,
    )


def refused(cmd: str) -> str:
    """The line the firmware logs for an unknown command."""
    return f"cmd {cmd} refused: unknown command"


def log_in(page: Page, runner: HassRunner) -> None:
    page.goto(runner.base_url + "/microhome")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/microhome**", timeout=TIMEOUT_MS)


def test_panel_shows_node_logs_live(
    hass_process: HassRunner,
    node: subprocess.Popen[bytes],
    mosquitto: Mosquitto,
    fleet_key: bytes,
) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            dialogs: list[str] = []

            def on_dialog(dialog: Any) -> None:
                dialogs.append(dialog.message)
                dialog.dismiss()

            page.on("dialog", on_dialog)
            log_in(page, hass_process)
            run_scenario(
                page,
                runner=hass_process,
                node=node,
                mosquitto=mosquitto,
                fleet_key=fleet_key,
                dialogs=dialogs,
            )
        finally:
            browser.close()


def run_scenario(
    page: Page,
    *,
    runner: HassRunner,
    node: subprocess.Popen[bytes],
    mosquitto: Mosquitto,
    fleet_key: bytes,
    dialogs: list[str],
) -> None:
    panel = page.locator("microhome-panel")
    rows = panel.locator("#rows tr.entry")
    messages = panel.locator("#rows td.message")

    # The node's own boot line arrives from the real firmware.
    boot_line = messages.filter(has_text="boot 1, firmware ")
    expect(boot_line).to_have_count(1, timeout=TIMEOUT_MS)
    node_row = panel.locator(f'#nodes tr[data-node="{NODE_ID}"]')
    expect(node_row).to_contain_text("online", timeout=TIMEOUT_MS)

    # A new line arrives live, on top, as text: no element made of it, no script run.
    send_command(mosquitto, fleet_key, XSS)
    expect(rows.first.locator("td.message")).to_have_text(refused(XSS), timeout=TIMEOUT_MS)
    expect(rows.first).to_have_attribute("data-level", "W")
    expect(rows.first.locator("td.node")).to_have_text(NODE_ID)
    expect(rows.first.locator("td.source")).to_have_text("home")
    send_command(mosquitto, fleet_key, XSS_FLAG)
    expect(rows.first.locator("td.message")).to_have_text(refused(XSS_FLAG), timeout=TIMEOUT_MS)
    assert panel.locator("#rows img").count() == 0
    page.wait_for_timeout(500)
    assert dialogs == []
    assert page.evaluate("() => window.microhomeXss") is None

    # Pausing holds new lines back; resuming shows them.
    panel.locator("#pause").click()
    send_command(mosquitto, fleet_key, "while-paused")
    expect(panel.locator("#tail")).to_contain_text("1 new lines", timeout=TIMEOUT_MS)
    expect(messages.filter(has_text=refused("while-paused"))).to_have_count(0)
    panel.locator("#pause").click()
    expect(rows.first.locator("td.message")).to_have_text(refused("while-paused"))
    expect(panel.locator("#tail")).to_have_text("Live")

    # Download: the shown lines as text, oldest first.
    with page.expect_download() as download_info:
        panel.locator("#download").click()
    text = Path(download_info.value.path()).read_text()
    lines = text.splitlines()
    assert f"{NODE_ID} W home: {refused(XSS)}" in lines[-3]
    assert lines[-1].endswith(f"{NODE_ID} W home: {refused('while-paused')}")
    assert any("boot 1, firmware" in line for line in lines[:3])

    page.wait_for_timeout(300)
    shot = page.screenshot(
        path=str(SCREENSHOT) if os.environ.get("MICROHOME_SCREENSHOTS") == "1" else None
    )
    assert shot.startswith(b"\x89PNG")

    # Filtering by level: only warnings and above stay.
    info_lines = panel.locator('#rows tr.entry[data-level="I"]')
    assert info_lines.count() > 0
    panel.locator("#level").select_option("W")
    expect(info_lines).to_have_count(0, timeout=TIMEOUT_MS)
    expect(messages.filter(has_text=refused(XSS))).to_have_count(1)
    levels = rows.evaluate_all("rows => rows.map(row => row.dataset.level)")
    assert levels and set(levels) <= {"W", "E", "C"}

    # Text search narrows further.
    panel.locator("#text").fill("while-paused")
    expect(rows).to_have_count(1, timeout=TIMEOUT_MS)
    panel.locator("#text").fill("")
    panel.locator("#level").select_option("D")
    expect(info_lines.first).to_be_visible(timeout=TIMEOUT_MS)

    # The settings view: the defaults, and the fleet key behind a reveal button.
    panel.locator("#tab-settings").click()
    expect(panel.locator("#ftp_port")).to_have_value("2121", timeout=TIMEOUT_MS)
    expect(panel.locator("#log_history")).to_have_value("5000")
    expect(panel.locator("#fleet-key")).not_to_contain_text(fleet_key.hex())
    panel.locator("#reveal").click()
    expect(panel.locator("#fleet-key")).to_have_text(fleet_key.hex(), timeout=TIMEOUT_MS)
    command = panel.locator("#flash-command")
    expect(command).to_contain_text("microhome flash --port /dev/ttyACM0")
    expect(command).to_contain_text(f"--fleet-key {fleet_key.hex()}")
    expect(command).to_contain_text(f":{mosquitto.port} ")
    # A refused setting says why; a good one is saved.
    result = panel.locator("#settings-message")
    panel.locator("#ftp_port").fill("2125")
    panel.locator("#save").click()
    expect(result).to_contain_text("Not saved", timeout=TIMEOUT_MS)
    expect(result).to_contain_text("outside the passive port range")
    panel.locator("#ftp_port").fill("2121")
    panel.locator("#log_history").fill("1000")
    panel.locator("#save").click()
    expect(result).to_have_text("Saved.", timeout=TIMEOUT_MS)
    page.reload()
    panel.locator("#tab-settings").click()
    expect(panel.locator("#log_history")).to_have_value("1000", timeout=TIMEOUT_MS)

    # Dark mode: the panel follows Home Assistant's theme variables.
    page.emulate_media(color_scheme="dark")
    panel.locator("#tab-logs").click()
    expect(rows.first).to_be_visible()
    page.wait_for_timeout(500)
    background = panel.evaluate("panel => getComputedStyle(panel).backgroundColor")
    red, green, blue = (int(part) for part in background[4:-1].split(",")[:3])
    assert red + green + blue < 3 * 80, background

    # The lines survive a Home Assistant restart.
    node.terminate()
    node.wait(15)
    runner.restart()
    runner.wait_for_entry("microhome")
    page.emulate_media(color_scheme="light")
    page.reload()
    expect(messages.filter(has_text=refused(XSS))).to_have_count(1, timeout=TIMEOUT_MS)
    expect(boot_line).to_be_visible()

    # Clearing asks first; cancelled nothing goes, confirmed everything goes.
    panel.locator("#clear").click()
    expect(panel.locator("#confirm")).to_be_visible()
    expect(panel.locator("#confirm-text")).to_contain_text("all nodes")
    panel.locator("#confirm-cancel").click()
    expect(panel.locator("#confirm")).to_be_hidden()
    expect(boot_line).to_have_count(1)
    panel.locator("#clear").click()
    panel.locator("#confirm-clear").click()
    expect(rows).to_have_count(0, timeout=TIMEOUT_MS)
    expect(panel.locator("#rows-empty")).to_be_visible()
    page.reload()
    expect(panel.locator('#rows[data-loaded="true"]')).to_have_count(1, timeout=TIMEOUT_MS)
    expect(rows).to_have_count(0)
    expect(panel.locator("#rows-empty")).to_be_visible()
