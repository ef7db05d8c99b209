"""The firmware update entity and the OTA job behind it: a real FTP server (pyftpdlib) serving
real bundles, the node's side played over the mocked MQTT broker."""

from __future__ import annotations

import asyncio
import ftplib
import hashlib
import io
import json
import shutil
import socket
from collections.abc import Callable, Coroutine, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.components.update import UpdateEntityFeature
from homeassistant.components.update.const import (
    ATTR_IN_PROGRESS,
    ATTR_INSTALLED_VERSION,
    ATTR_LATEST_VERSION,
    ATTR_RELEASE_SUMMARY,
    ATTR_TITLE,
    ATTR_UPDATE_PERCENTAGE,
)
from homeassistant.const import ATTR_SUPPORTED_FEATURES, STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_mqtt_message,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient, WebSocketGenerator

from custom_components.microhome import ota_job, protocol
from custom_components.microhome.const import DOMAIN
from custom_components.microhome.ota_job import DATA_OTA, OtaManager
from custom_components.microhome.settings import STORAGE_KEY as SETTINGS_KEY

from .conftest import NODE_ID, Fire, entity_id
from .test_ota_server import free_port, make_bundle, port_is_free

# The FTP server runs in this process (sockets to 127.0.0.1 only).
pytestmark = pytest.mark.usefixtures("socket_enabled")

HA_ADDRESS = "192.168.1.20"  # Home Assistant's address as the network integration finds it
NOTES = "# 1.4.0\n\n- Faster DHT22 reads.\n"


# --- fixtures and helpers shared with test_ota_service.py ---------------------------------


@pytest.fixture
def firmware(hass: HomeAssistant, tmp_path: Path) -> Path:
    """User bundles 1.3.0 and 1.4.0 (with notes) beside the shipped 0.1.0."""
    hass.config.config_dir = str(tmp_path / "config")
    user = Path(hass.config.path("microhome", "firmware"))
    make_bundle(user, "1.3.0")
    make_bundle(user, "1.4.0", notes=NOTES)
    return user


@pytest.fixture
def ftp_settings(hass_storage: dict[str, Any]) -> Iterator[int]:
    """MicroHome's settings: a free FTP port and passive port; the node-facing address auto."""
    port, passive = free_port(), free_port()
    hass_storage[SETTINGS_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": SETTINGS_KEY,
        "data": {"ftp_port": port, "ftp_passive_ports": [passive, passive]},
    }
    with patch("homeassistant.components.network.async_get_source_ip", return_value=HA_ADDRESS):
        yield port


type OnOta = Callable[[str, dict[str, Any]], Coroutine[Any, Any, None]]


class Nodes:
    """The nodes' side of MQTT: checks the signature of every command, records and answers it."""

    def __init__(self, hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes) -> None:
        self.hass = hass
        self.fleet_key = fleet_key
        self.commands: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.all: list[tuple[str, dict[str, Any]]] = []
        # The reply's fields (ok, error); None: no reply at all.
        self.reply: dict[str, Any] | None = {}
        # Run for every `ota` command (after the reply), as the node's update would.
        self.on_ota: OnOta | None = None
        mqtt_mock.async_publish.side_effect = self._on_publish

    async def _on_publish(
        self, topic: str, payload: str, qos: int, retain: bool, **kwargs: Any
    ) -> None:
        if not topic.endswith("/cmd"):
            return
        node_id = topic.split("/")[1]
        body = protocol.verify(protocol.node_key(self.fleet_key, node_id), topic, payload)
        self.all.append((node_id, body))
        self.commands.put_nowait((node_id, body))
        if self.reply is not None:
            answer = {"n": body["n"], "ok": True, "error": None} | self.reply
            self.hass.loop.call_soon(send, self.hass, node_id, "reply", answer)
        if self.on_ota is not None and body["cmd"] == "ota":
            self.hass.loop.call_soon(
                lambda: self.hass.async_create_task(self.on_ota(node_id, body))  # type: ignore[misc]
            )

    async def next_command(self) -> tuple[str, dict[str, Any]]:
        async with asyncio.timeout(10):
            return await self.commands.get()


def send(
    hass: HomeAssistant, node_id: str, suffix: str, payload: Any, retain: bool = False
) -> None:
    """A message from the node `node_id`."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    async_fire_mqtt_message(hass, f"microhome/{node_id}/{suffix}", text, retain=retain)


def status(state: str, version: str, progress: int = 0, error: str | None = None) -> dict[str, Any]:
    return {"state": state, "version": version, "progress": progress, "error": error}


def reboot_into(hass: HomeAssistant, node_id: str, announce: dict[str, Any], version: str) -> None:
    """The node comes back with `version`: online, its new announce, ota/status done."""
    send(hass, node_id, "status", "online")
    send(hass, node_id, "announce", announce | {"fw": version})
    send(hass, node_id, "ota/status", status("done", version, 100))


@pytest.fixture
def nodes(hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes) -> Nodes:
    return Nodes(hass, mqtt_mock, fleet_key)


@pytest.fixture
async def node(
    firmware: Path, ftp_settings: int, loaded_entry: MockConfigEntry, nodes: Nodes
) -> MockConfigEntry:
    """The node mh-a1b2c3 (firmware 1.2.3) loaded, bundles 1.3.0 and 1.4.0 offered."""
    return loaded_entry


def manager(hass: HomeAssistant) -> OtaManager:
    return hass.data[DATA_OTA]


async def settle() -> None:
    """Let the tasks under way run (without waiting for an install to end)."""
    for _ in range(5):
        await asyncio.sleep(0)


def start(hass: HomeAssistant, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    return hass.async_create_task(coro)


def ftp_fetch(port: int, user: str, password: str, path: str) -> bytes:
    """Log in to the firmware FTP server as a node would and fetch one file."""
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=5)
    try:
        ftp.login(user, password)
        out = io.BytesIO()
        ftp.retrbinary(f"RETR {path}", out.write)
        return out.getvalue()
    finally:
        ftp.close()


def ftp_login_error(port: int, user: str, password: str) -> str:
    try:
        ftp_fetch(port, user, password, "/")
    except (ftplib.Error, OSError) as err:
        return str(err)
    return "logged in"


def update_state(hass: HomeAssistant) -> Any:
    state = hass.states.get(entity_id(hass, "update", "firmware"))
    assert state is not None
    return state


async def install(hass: HomeAssistant, **data: Any) -> None:
    await hass.services.async_call(
        "update",
        "install",
        {"entity_id": entity_id(hass, "update", "firmware"), **data},
        blocking=True,
    )


def ota_issue(hass: HomeAssistant) -> ir.IssueEntry | None:
    return ir.async_get(hass).async_get_issue(DOMAIN, f"ota_failed_{NODE_ID}")


# --- the entity --------------------------------------------------------------------------


async def test_entity_offers_the_newest_bundle(hass: HomeAssistant, node: MockConfigEntry) -> None:
    state = update_state(hass)
    assert state.state == STATE_ON
    assert state.attributes[ATTR_INSTALLED_VERSION] == "1.2.3"
    assert state.attributes[ATTR_LATEST_VERSION] == "1.4.0"
    assert state.attributes[ATTR_IN_PROGRESS] is False
    assert state.attributes[ATTR_UPDATE_PERCENTAGE] is None
    assert state.attributes[ATTR_TITLE] == "MicroHome firmware"
    assert state.attributes[ATTR_RELEASE_SUMMARY] is None
    assert state.attributes["friendly_name"] == "Kitchen Firmware"
    assert state.attributes["device_class"] == "firmware"
    assert state.attributes["last_result"] is None
    assert state.attributes[ATTR_SUPPORTED_FEATURES] == (
        UpdateEntityFeature.INSTALL
        | UpdateEntityFeature.SPECIFIC_VERSION
        | UpdateEntityFeature.PROGRESS
        | UpdateEntityFeature.RELEASE_NOTES
    )


async def test_release_notes_from_the_bundle(
    *,
    hass: HomeAssistant,
    node: MockConfigEntry,
    firmware: Path,
    fire: Fire,
    announce: dict[str, Any],
    hass_ws_client: WebSocketGenerator,
) -> None:
    client = await hass_ws_client(hass)
    update_id = entity_id(hass, "update", "firmware")
    await client.send_json_auto_id({"type": "update/release_notes", "entity_id": update_id})
    assert (await client.receive_json())["result"] == NOTES

    # 1.3.0 has no notes: nothing to show once it is the newest.
    (firmware / "1.4.0" / "manifest.json").unlink()
    await manager(hass).async_refresh()
    assert update_state(hass).attributes[ATTR_LATEST_VERSION] == "1.3.0"
    await client.send_json_auto_id({"type": "update/release_notes", "entity_id": update_id})
    assert (await client.receive_json())["result"] is None

    # A node newer than every bundle: nothing offered, no notes.
    fire("announce", announce | {"fw": "2.0.0"})
    await hass.async_block_till_done()
    await client.send_json_auto_id({"type": "update/release_notes", "entity_id": update_id})
    assert (await client.receive_json())["result"] is None


async def test_newer_firmware_is_not_offered_a_downgrade(
    hass: HomeAssistant, node: MockConfigEntry, fire: Fire, announce: dict[str, Any]
) -> None:
    fire("announce", announce | {"fw": "2.0.0"})
    await hass.async_block_till_done()
    state = update_state(hass)
    assert state.state == STATE_OFF
    assert state.attributes[ATTR_INSTALLED_VERSION] == "2.0.0"
    assert state.attributes[ATTR_LATEST_VERSION] == "2.0.0"
    with pytest.raises(HomeAssistantError) as err:
        await install(hass)
    assert err.value.translation_key == "no_update_available"

    # The same firmware as the newest bundle: up to date.
    fire("announce", announce | {"fw": "1.4.0"})
    await hass.async_block_till_done()
    assert update_state(hass).state == STATE_OFF
    assert update_state(hass).attributes[ATTR_LATEST_VERSION] == "1.4.0"

    # A version that does not compare is offered the newest bundle.
    fire("announce", announce | {"fw": "custom"})
    await hass.async_block_till_done()
    assert update_state(hass).attributes[ATTR_LATEST_VERSION] == "1.4.0"


async def test_entity_follows_the_catalogue(
    hass: HomeAssistant, node: MockConfigEntry, firmware: Path
) -> None:
    make_bundle(firmware, "1.5.0")
    # Checked again every 10 minutes.
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=11))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert update_state(hass).attributes[ATTR_LATEST_VERSION] == "1.5.0"


async def test_install_fetches_over_ftp_and_follows_the_status(
    *,
    hass: HomeAssistant,
    node: MockConfigEntry,
    nodes: Nodes,
    firmware: Path,
    ftp_settings: int,
    announce: dict[str, Any],
) -> None:
    task = start(hass, install(hass))
    node_id, cmd = await nodes.next_command()
    assert node_id == NODE_ID

    # The signed `ota` command (signature checked by Nodes), as the contract says.
    manifest = (firmware / "1.4.0" / "manifest.json").read_bytes()
    assert set(cmd) == {
        "n",
        "cmd",
        "version",
        "host",
        "port",
        "user",
        "password",
        "path",
        "manifest_sha256",
    }
    assert cmd["cmd"] == "ota"
    assert cmd["version"] == "1.4.0"
    assert cmd["host"] == HA_ADDRESS
    assert cmd["port"] == ftp_settings
    assert cmd["path"] == "/1.4.0"
    assert cmd["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()

    # The credentials work on the running FTP server and give the very manifest signed for.
    fetched = await hass.async_add_executor_job(
        ftp_fetch, cmd["port"], cmd["user"], cmd["password"], f"{cmd['path']}/manifest.json"
    )
    assert hashlib.sha256(fetched).hexdigest() == cmd["manifest_sha256"]
    module = await hass.async_add_executor_job(
        ftp_fetch, cmd["port"], cmd["user"], cmd["password"], f"{cmd['path']}/home/mqtt.mpy"
    )
    assert module == (firmware / "1.4.0" / "home/mqtt.mpy").read_bytes()

    state = update_state(hass)
    assert state.attributes[ATTR_IN_PROGRESS] is True
    assert state.attributes[ATTR_UPDATE_PERCENTAGE] is None

    for progress in (0, 40, 100):
        send(hass, NODE_ID, "ota/status", status("downloading", "1.4.0", progress))
        await settle()
        assert update_state(hass).attributes[ATTR_UPDATE_PERCENTAGE] == progress
    send(hass, NODE_ID, "ota/status", status("verifying", "1.4.0", 100))
    send(hass, NODE_ID, "ota/status", status("applying", "1.4.0", 100))
    send(hass, NODE_ID, "ota/status", status("rebooting", "1.4.0", 100))
    # While it reboots the node is offline; the update stays in view.
    send(hass, NODE_ID, "status", "offline")
    await settle()
    state = update_state(hass)
    assert state.state == STATE_ON
    assert state.attributes[ATTR_IN_PROGRESS] is True
    assert not task.done()

    reboot_into(hass, NODE_ID, announce, "1.4.0")
    await task
    state = update_state(hass)
    assert state.state == STATE_OFF
    assert state.attributes[ATTR_INSTALLED_VERSION] == "1.4.0"
    assert state.attributes[ATTR_IN_PROGRESS] is False
    assert state.attributes["last_result"] == "done"
    assert state.attributes["last_error"] is None
    assert ota_issue(hass) is None

    # The session is closed and the server stopped: the credentials no longer work.
    assert manager(hass).ftp.port is None
    assert port_is_free(ftp_settings)
    assert "Connection refused" in await hass.async_add_executor_job(
        ftp_login_error, cmd["port"], cmd["user"], cmd["password"]
    )


async def test_the_new_announce_alone_ends_the_update(
    hass: HomeAssistant, node: MockConfigEntry, nodes: Nodes, announce: dict[str, Any]
) -> None:
    task = start(hass, install(hass, version="1.3.0"))
    _, cmd = await nodes.next_command()
    assert cmd["version"] == "1.3.0"
    # A status of another version (a late one) does not end it.
    send(hass, NODE_ID, "ota/status", status("done", "1.2.3", 100))
    send(hass, NODE_ID, "ota/status", status("idle", "1.2.3"))
    await settle()
    assert not task.done()
    send(hass, NODE_ID, "announce", announce | {"fw": "1.3.0"})
    await task
    assert update_state(hass).attributes[ATTR_INSTALLED_VERSION] == "1.3.0"
    assert update_state(hass).attributes["last_result"] == "done"


async def test_a_retained_status_before_the_command_is_not_the_result(
    hass: HomeAssistant, node: MockConfigEntry, nodes: Nodes, announce: dict[str, Any]
) -> None:
    send(hass, NODE_ID, "ota/status", status("failed", "1.4.0", 10, "old"))
    await hass.async_block_till_done()
    task = start(hass, install(hass))
    await nodes.next_command()
    await settle()
    assert not task.done()
    reboot_into(hass, NODE_ID, announce, "1.4.0")
    await task


async def test_install_a_chosen_older_version(
    hass: HomeAssistant, node: MockConfigEntry, nodes: Nodes, fire: Fire, announce: dict[str, Any]
) -> None:
    """Asked for by version: a downgrade or re-install is done; the node must say `done`."""
    fire("announce", announce | {"fw": "1.4.0"})
    await hass.async_block_till_done()
    task = start(hass, install(hass, version="1.4.0"))
    _, cmd = await nodes.next_command()
    assert cmd["version"] == "1.4.0"
    # The node re-announcing 1.4.0 proves nothing: it ran it before.
    fire("announce", announce | {"fw": "1.4.0", "ip": "192.168.1.99"})
    await settle()
    assert not task.done()
    send(hass, NODE_ID, "ota/status", status("done", "1.4.0", 100))
    await task

    task = start(hass, install(hass, version="1.3.0"))
    _, cmd = await nodes.next_command()
    assert cmd["version"] == "1.3.0"
    reboot_into(hass, NODE_ID, announce, "1.3.0")
    await task
    assert update_state(hass).attributes[ATTR_INSTALLED_VERSION] == "1.3.0"
    assert update_state(hass).state == STATE_ON


async def test_unknown_version_is_refused(
    hass: HomeAssistant, node: MockConfigEntry, nodes: Nodes
) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await install(hass, version="9.9.9")
    assert err.value.translation_key == "unknown_version"
    assert err.value.translation_placeholders == {
        "version": "9.9.9",
        "versions": "0.1.0, 1.3.0, 1.4.0",
    }
    assert str(err.value) == ("There is no firmware bundle 9.9.9. Available: 0.1.0, 1.3.0, 1.4.0")
    assert nodes.all == []


@pytest.mark.parametrize(
    ("result", "node_error", "message"),
    [
        (
            "failed",
            "home/mqtt.mpy: sha256 mismatch",
            "Updating Kitchen to 1.4.0 failed: home/mqtt.mpy: sha256 mismatch",
        ),
        (
            "rolled_back",
            "ImportError: home.mqtt",
            "Kitchen could not start firmware 1.4.0 and went back to its previous firmware: "
            "ImportError: home.mqtt",
        ),
    ],
)
async def test_node_reports_a_failure(
    *,
    hass: HomeAssistant,
    node: MockConfigEntry,
    nodes: Nodes,
    ftp_settings: int,
    announce: dict[str, Any],
    result: str,
    node_error: str,
    message: str,
) -> None:
    task = start(hass, install(hass))
    await nodes.next_command()
    send(hass, NODE_ID, "ota/status", status("downloading", "1.4.0", 30))
    send(hass, NODE_ID, "ota/status", status(result, "1.4.0", 30, node_error))
    with pytest.raises(HomeAssistantError) as err:
        await task
    assert err.value.translation_key == f"ota_{result}"
    assert str(err.value) == message
    state = update_state(hass)
    assert state.state == STATE_ON
    assert state.attributes[ATTR_INSTALLED_VERSION] == "1.2.3"
    assert state.attributes[ATTR_IN_PROGRESS] is False
    assert state.attributes["last_result"] == result
    assert state.attributes["last_error"] == node_error
    issue = ota_issue(hass)
    assert issue is not None
    assert issue.translation_key == f"ota_{result}"
    assert issue.severity == ir.IssueSeverity.ERROR
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["error"] == node_error
    assert issue.translation_placeholders["from_version"] == "1.2.3"
    assert issue.translation_placeholders["version"] == "1.4.0"
    assert manager(hass).ftp.port is None
    assert port_is_free(ftp_settings)

    # A later update that succeeds clears the repair.
    task = start(hass, install(hass))
    await nodes.next_command()
    reboot_into(hass, NODE_ID, announce, "1.4.0")
    await task
    assert ota_issue(hass) is None
    assert update_state(hass).attributes["last_result"] == "done"


async def test_timeout(
    hass: HomeAssistant, node: MockConfigEntry, nodes: Nodes, ftp_settings: int
) -> None:
    with patch.object(ota_job, "OTA_TIMEOUT", 0.3):
        task = start(hass, install(hass))
        await nodes.next_command()
        send(hass, NODE_ID, "ota/status", status("downloading", "1.4.0", 20))
        with pytest.raises(HomeAssistantError) as err:
            await task
    assert err.value.translation_key == "ota_timeout"
    assert str(err.value) == (
        "Updating Kitchen to 1.4.0 did not finish in time: "
        "no result within 0.3 s; last state downloading at 20 %"
    )
    state = update_state(hass)
    assert state.attributes["last_result"] == "timeout"
    assert state.attributes[ATTR_IN_PROGRESS] is False
    issue = ota_issue(hass)
    assert issue is not None
    assert issue.translation_key == "ota_timeout"
    assert manager(hass).ftp.port is None
    assert port_is_free(ftp_settings)


async def test_timeout_without_any_status(
    hass: HomeAssistant, node: MockConfigEntry, nodes: Nodes
) -> None:
    with patch.object(ota_job, "OTA_TIMEOUT", 0.2), pytest.raises(HomeAssistantError) as err:
        await install(hass)
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["error"] == "no progress reported within 0.2 s"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ({"ok": False, "error": "busy"}, "Kitchen refused the command: busy"),
        (None, "Kitchen did not answer the command in time"),
    ],
)
async def test_command_refused_or_unanswered(
    *,
    hass: HomeAssistant,
    node: MockConfigEntry,
    nodes: Nodes,
    ftp_settings: int,
    reply: dict[str, Any] | None,
    error: str,
) -> None:
    nodes.reply = reply
    with pytest.raises(HomeAssistantError) as err:
        await install(hass)
    assert err.value.translation_key == "ota_failed"
    assert err.value.translation_placeholders is not None
    assert err.value.translation_placeholders["error"] == error
    assert update_state(hass).attributes["last_error"] == error
    assert ota_issue(hass) is not None
    assert manager(hass).ftp.port is None
    assert port_is_free(ftp_settings)


async def test_offline_node_is_not_updated(
    hass: HomeAssistant, node: MockConfigEntry, nodes: Nodes, fire: Fire
) -> None:
    fire("status", "offline")
    await hass.async_block_till_done()
    assert update_state(hass).state == STATE_UNAVAILABLE
    with pytest.raises(HomeAssistantError) as err:
        await manager(hass).async_update(node.runtime_data, manager(hass).bundle(None))
    assert str(err.value) == "Kitchen is offline"
    assert nodes.all == []
    assert manager(hass).ftp.port is None


async def test_ftp_server_cannot_start(
    hass: HomeAssistant, node: MockConfigEntry, nodes: Nodes, ftp_settings: int
) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", ftp_settings))
        taken.listen()
        with pytest.raises(HomeAssistantError) as err:
            await install(hass)
    assert err.value.translation_key == "ftp_server_failed"
    assert str(err.value).startswith(
        f"The firmware FTP server cannot listen on port {ftp_settings}: "
    )
    assert nodes.all == []
    assert update_state(hass).attributes[ATTR_IN_PROGRESS] is False


async def test_bundle_removed_before_the_install(
    hass: HomeAssistant, node: MockConfigEntry, nodes: Nodes, firmware: Path
) -> None:
    bundle = manager(hass).bundle("1.4.0")
    shutil.rmtree(firmware)
    with pytest.raises(HomeAssistantError) as err:
        await manager(hass).async_update(node.runtime_data, bundle)
    assert str(err.value) == "Firmware bundle 1.4.0 is no longer available"
    assert nodes.all == []


async def test_one_update_at_a_time(
    hass: HomeAssistant, node: MockConfigEntry, nodes: Nodes, announce: dict[str, Any]
) -> None:
    task = start(hass, install(hass))
    await nodes.next_command()
    with pytest.raises(HomeAssistantError) as err:
        await install(hass)
    assert err.value.translation_key == "update_in_progress"
    with pytest.raises(HomeAssistantError) as err:
        await manager(hass).async_update(node.runtime_data, manager(hass).bundle("1.3.0"))
    assert str(err.value) == "Kitchen is already being updated"
    reboot_into(hass, NODE_ID, announce, "1.4.0")
    await task
    assert len(nodes.all) == 1


async def test_unloading_the_node_stops_its_update(
    hass: HomeAssistant, node: MockConfigEntry, nodes: Nodes, ftp_settings: int
) -> None:
    task = start(hass, install(hass))
    await nodes.next_command()
    assert not port_is_free(ftp_settings)
    await hass.config_entries.async_unload(node.entry_id)
    with pytest.raises(HomeAssistantError) as err:
        await task
    assert str(err.value) == "The update of Kitchen stopped: the node was unloaded"
    assert manager(hass).jobs == {}
    assert manager(hass).ftp.port is None
    assert port_is_free(ftp_settings)


async def test_cancelled_install_ends_the_session(
    hass: HomeAssistant, node: MockConfigEntry, nodes: Nodes, ftp_settings: int
) -> None:
    task = start(hass, install(hass))
    await nodes.next_command()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert manager(hass).jobs == {}
    assert manager(hass).ftp.port is None
    assert port_is_free(ftp_settings)
    assert update_state(hass).attributes[ATTR_IN_PROGRESS] is False


async def test_home_assistant_stopping_stops_the_ftp_server(
    hass: HomeAssistant, node: MockConfigEntry, ftp_settings: int
) -> None:
    bundle = manager(hass).bundle(None)
    session = await manager(hass).ftp.async_start_session(bundle, ftp_settings, range(1, 2))
    assert manager(hass).ftp.port == session.port
    hass.bus.async_fire("homeassistant_stop")
    await hass.async_block_till_done()
    assert manager(hass).ftp.port is None
    assert port_is_free(ftp_settings)


async def test_manager_is_created_once(hass: HomeAssistant, firmware: Path) -> None:
    first, second = await asyncio.gather(
        ota_job.async_get_ota_manager(hass), ota_job.async_get_ota_manager(hass)
    )
    assert first is second
    assert list(first.bundles) == ["0.1.0", "1.3.0", "1.4.0"]


def test_versions_compare() -> None:
    assert ota_job.version_is_newer("1.10.0", "1.9.0")
    assert not ota_job.version_is_newer("1.9.0", "1.10.0")
    assert not ota_job.version_is_newer("custom", "1.0.0")
