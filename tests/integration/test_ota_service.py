"""`microhome.ota_update`: several nodes at once, bounded concurrency, per-node results."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.auth.models import User
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import area_registry as ar
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.microhome import ota_job, protocol
from custom_components.microhome.const import DOMAIN

from .conftest import NODE_ID, make_options
from .test_ota_server import port_is_free
from .test_update import (  # noqa: F401
    HA_ADDRESS,
    Nodes,
    firmware,
    ftp_fetch,
    ftp_settings,
    manager,
    nodes,
    reboot_into,
    send,
    status,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def add_node(
    hass: HomeAssistant,
    fleet_key: bytes,
    announce: dict[str, Any],
    node_id: str,
    fw: str = "1.2.3",
    **announced: Any,
) -> MockConfigEntry:
    """Set up one more node named node_id, online, running firmware `fw` (and the announce's
    other fields as given)."""
    key_id = protocol.key_id(protocol.node_key(fleet_key, node_id))
    node_announce = announce | {"id": node_id, "name": node_id, "fw": fw, "key_id": key_id}
    node_announce |= announced
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=node_id,
        title=node_id,
        data={"node_id": node_id, "platform": node_announce["platform"], "announce": node_announce},
        options=make_options([]) | {"name": node_id},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    send(hass, node_id, "status", "online", retain=True)
    send(hass, node_id, "announce", node_announce, retain=True)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
async def fleet(
    *,
    hass: HomeAssistant,
    firmware: Path,  # noqa: F811
    ftp_settings: int,  # noqa: F811
    mqtt_mock: Any,
    fleet_key: bytes,
    announce: dict[str, Any],
    nodes: Nodes,  # noqa: F811
) -> list[MockConfigEntry]:
    """Six nodes on firmware 1.2.3; bundles 1.3.0 and 1.4.0 offered."""
    return [await add_node(hass, fleet_key, announce, f"node-{number}") for number in range(6)]


def device_id(hass: HomeAssistant, node_id: str) -> str:
    entry = hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, node_id)
    assert entry is not None
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, node_id), entry.entry_id)
    assert device is not None
    return device.id


def update_entity_id(hass: HomeAssistant, node_id: str) -> str:
    found = er.async_get(hass).async_get_entity_id("update", DOMAIN, f"{node_id}_firmware")
    assert found is not None
    return found


async def ota_update(hass: HomeAssistant, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "ota_update", data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


class Updating:
    """The nodes' update: a few status steps, then a reboot into the new version.

    Counts how many nodes update at the same time.
    """

    def __init__(self, hass: HomeAssistant, announce: dict[str, Any], fleet_key: bytes) -> None:
        self.hass = hass
        self.announce = announce
        self.fleet_key = fleet_key
        self.running = 0
        self.most = 0
        self.outcome: dict[str, tuple[str, str | None]] = {}  # node id -> (state, error)

    async def __call__(self, node_id: str, cmd: dict[str, Any]) -> None:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            version = cmd["version"]
            for progress in (0, 50, 100):
                await asyncio.sleep(0.02)
                send(self.hass, node_id, "ota/status", status("downloading", version, progress))
            state, error = self.outcome.get(node_id, ("done", None))
            if state == "silent":
                return
            if state != "done":
                send(self.hass, node_id, "ota/status", status(state, version, 100, error))
                return
            send(self.hass, node_id, "ota/status", status("rebooting", version, 100))
            send(self.hass, node_id, "status", "offline")
            await asyncio.sleep(0.02)
            key_id = protocol.key_id(protocol.node_key(self.fleet_key, node_id))
            node_announce = self.announce | {"id": node_id, "name": node_id, "key_id": key_id}
            reboot_into(self.hass, node_id, node_announce, version)
        finally:
            self.running -= 1


@pytest.fixture
def updating(
    hass: HomeAssistant,
    nodes: Nodes,  # noqa: F811
    announce: dict[str, Any],
    fleet_key: bytes,
) -> Updating:
    nodes.on_ota = updating = Updating(hass, announce, fleet_key)
    return updating


@pytest.mark.parametrize(("concurrency", "most"), [({}, 4), ({"concurrency": 2}, 2)])
async def test_several_nodes_with_bounded_concurrency(
    *,
    hass: HomeAssistant,
    fleet: list[MockConfigEntry],
    nodes: Nodes,  # noqa: F811
    updating: Updating,
    concurrency: dict[str, int],
    most: int,
) -> None:
    node_ids = [entry.data["node_id"] for entry in fleet]
    response = await ota_update(
        hass, device_id=[device_id(hass, node_id) for node_id in node_ids], **concurrency
    )

    assert updating.most == most
    assert sorted(node_id for node_id, _ in nodes.all) == sorted(node_ids)
    assert set(response["nodes"]) == set(node_ids)
    for node_id in node_ids:
        result = response["nodes"][node_id]
        assert result["name"] == node_id
        assert result["result"] == "done"
        assert result["version"] == "1.4.0"
        assert result["from_version"] == "1.2.3"
        assert result["error"] is None
        assert 0 < result["duration"] < 30
        assert hass.states.get(update_entity_id(hass, node_id)).state == "off"  # type: ignore[union-attr]
    assert manager(hass).jobs == {}
    assert manager(hass).ftp.port is None


async def test_commands_carry_working_ftp_credentials(
    hass: HomeAssistant,
    fleet: list[MockConfigEntry],
    nodes: Nodes,  # noqa: F811
    updating: Updating,
    firmware: Path,  # noqa: F811
) -> None:
    """Each node gets its own FTP user; every one works while the updates run."""
    fetched: dict[str, str] = {}

    async def fetch_then_update(node_id: str, cmd: dict[str, Any]) -> None:
        manifest = await hass.async_add_executor_job(
            ftp_fetch, cmd["port"], cmd["user"], cmd["password"], f"{cmd['path']}/manifest.json"
        )
        fetched[node_id] = hashlib.sha256(manifest).hexdigest()
        await updating(node_id, cmd)

    nodes.on_ota = fetch_then_update
    entities = [update_entity_id(hass, entry.data["node_id"]) for entry in fleet[:3]]
    response = await ota_update(hass, entity_id=entities, version="1.3.0")

    sha256 = hashlib.sha256((firmware / "1.3.0" / "manifest.json").read_bytes()).hexdigest()
    assert fetched == {entry.data["node_id"]: sha256 for entry in fleet[:3]}
    assert {result["result"] for result in response["nodes"].values()} == {"done"}
    commands = [cmd for _, cmd in nodes.all]
    assert {cmd["manifest_sha256"] for cmd in commands} == {sha256}
    assert {cmd["host"] for cmd in commands} == {HA_ADDRESS}
    assert len({cmd["user"] for cmd in commands}) == 3
    assert len({cmd["password"] for cmd in commands}) == 3


async def test_mixed_results(
    hass: HomeAssistant,
    fleet: list[MockConfigEntry],
    nodes: Nodes,  # noqa: F811
    updating: Updating,
) -> None:
    updating.outcome = {
        "node-1": ("failed", "not enough flash: 20480 free, 61440 needed"),
        "node-2": ("rolled_back", "boot 3 failed: ImportError"),
        "node-3": ("silent", None),
    }
    send(hass, "node-4", "status", "offline")
    await hass.async_block_till_done()
    with patch.object(ota_job, "OTA_TIMEOUT", 1.0):
        response = await ota_update(
            hass, entity_id=[update_entity_id(hass, e.data["node_id"]) for e in fleet[:5]]
        )
    results = {node_id: (r["result"], r["error"]) for node_id, r in response["nodes"].items()}
    assert results == {
        "node-0": ("done", None),
        "node-1": ("failed", "not enough flash: 20480 free, 61440 needed"),
        "node-2": ("rolled_back", "boot 3 failed: ImportError"),
        "node-3": ("timeout", "no result within 1 s; last state downloading at 100 %"),
        "node-4": ("failed", "node-4 is offline"),
    }
    issues = ir.async_get(hass)
    for node_id, (result, _) in results.items():
        issue = issues.async_get_issue(DOMAIN, f"ota_failed_{node_id}")
        if result in ("failed", "rolled_back", "timeout") and node_id != "node-4":
            assert issue is not None, node_id
            assert issue.translation_key == f"ota_{result}"
        else:
            assert issue is None, node_id  # node-4 was never started
    assert manager(hass).ftp.port is None


async def test_failure_without_response_raises(
    hass: HomeAssistant,
    fleet: list[MockConfigEntry],
    updating: Updating,
) -> None:
    updating.outcome = {"node-1": ("failed", "manifest sha256 mismatch")}
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            DOMAIN,
            "ota_update",
            {"device_id": [device_id(hass, "node-0"), device_id(hass, "node-1")]},
            blocking=True,
        )
    assert err.value.translation_key == "ota_update_failed"
    assert str(err.value) == (
        "1 of 2 node updates did not succeed: node-1: failed, manifest sha256 mismatch"
    )
    # All done: no error.
    await hass.services.async_call(
        DOMAIN, "ota_update", {"device_id": [device_id(hass, "node-0")]}, blocking=True
    )


async def test_up_to_date_newer_and_force(
    *,
    hass: HomeAssistant,
    firmware: Path,  # noqa: F811
    ftp_settings: int,  # noqa: F811
    mqtt_mock: Any,
    fleet_key: bytes,
    announce: dict[str, Any],
    nodes: Nodes,  # noqa: F811
    updating: Updating,
) -> None:
    await add_node(hass, fleet_key, announce, "on-latest", fw="1.4.0")
    await add_node(hass, fleet_key, announce, "newer", fw="2.0.0")
    targets = {"device_id": [device_id(hass, "on-latest"), device_id(hass, "newer")]}

    response = await ota_update(hass, **targets)
    assert nodes.all == []
    assert response["nodes"] == {
        "on-latest": {
            "name": "on-latest",
            "result": "up_to_date",
            "version": "1.4.0",
            "from_version": "1.4.0",
            "duration": 0,
            "error": None,
        },
        "newer": {
            "name": "newer",
            "result": "skipped",
            "version": "1.4.0",
            "from_version": "2.0.0",
            "duration": 0,
            "error": "runs 2.0.0, newer than 1.4.0; force downgrades it",
        },
    }
    # Not a failure: no error without a response either.
    await hass.services.async_call(DOMAIN, "ota_update", targets, blocking=True)

    # force: re-install and downgrade.
    response = await ota_update(hass, **targets, force=True)
    assert sorted(node_id for node_id, _ in nodes.all) == ["newer", "on-latest"]
    assert {r["result"] for r in response["nodes"].values()} == {"done"}
    assert port_is_free(ftp_settings)


async def test_targets_devices_entities_and_areas_once_each(
    hass: HomeAssistant,
    fleet: list[MockConfigEntry],
    nodes: Nodes,  # noqa: F811
    updating: Updating,
) -> None:
    area = ar.async_get(hass).async_create("Cellar")
    devices = dr.async_get(hass)
    devices.async_update_device(device_id(hass, "node-2"), area_id=area.id)
    # Something else in the same area is left alone.
    other_entry = MockConfigEntry(domain="other")
    other_entry.add_to_hass(hass)
    other_device = devices.async_get_or_create(
        config_entry_id=other_entry.entry_id, identifiers={("other", "x")}
    )
    devices.async_update_device(other_device.id, area_id=area.id)
    er.async_get(hass).async_get_or_create(
        "sensor", "other", "y", config_entry=other_entry, device_id=other_device.id
    )
    response = await ota_update(
        hass,
        device_id=[device_id(hass, "node-0")],
        entity_id=[update_entity_id(hass, "node-0"), update_entity_id(hass, "node-1")],
        area_id=[area.id],
    )
    assert sorted(response["nodes"]) == ["node-0", "node-1", "node-2"]
    assert sorted(node_id for node_id, _ in nodes.all) == ["node-0", "node-1", "node-2"]


async def test_bad_calls_change_nothing(
    hass: HomeAssistant,
    fleet: list[MockConfigEntry],
    nodes: Nodes,  # noqa: F811
) -> None:
    node_device = device_id(hass, "node-0")

    with pytest.raises(ServiceValidationError) as err:
        await ota_update(hass, device_id=[node_device], version="9.9.9")
    assert err.value.translation_key == "unknown_version"

    other_entry = MockConfigEntry(domain="other")
    other_entry.add_to_hass(hass)
    other_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=other_entry.entry_id, identifiers={("other", "x")}
    )
    other_entity = er.async_get(hass).async_get_or_create(
        "sensor", "other", "y", config_entry=other_entry
    )
    for target in (
        {"device_id": [node_device, other_device.id]},
        {"entity_id": [other_entity.entity_id]},
        {"entity_id": ["update.nothing_here"]},
    ):
        with pytest.raises(ServiceValidationError) as err:
            await ota_update(hass, **target)
        assert err.value.translation_key == "not_a_node"

    area = ar.async_get(hass).async_create("Empty")
    with pytest.raises(ServiceValidationError) as err:
        await ota_update(hass, area_id=[area.id])
    assert err.value.translation_key == "no_nodes"
    assert str(err.value) == "The target holds no MicroHome node"

    await hass.config_entries.async_unload(fleet[0].entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await ota_update(hass, device_id=[node_device])
    assert err.value.translation_key == "entry_not_loaded"

    with pytest.raises(Exception, match="concurrency"):
        await ota_update(hass, device_id=[node_device], concurrency=11)

    manager(hass).catalogue.shipped_dir = Path("/nonexistent")
    manager(hass).catalogue.user_dir = Path("/nonexistent")
    with pytest.raises(ServiceValidationError) as err:
        await ota_update(hass, device_id=[device_id(hass, "node-1")])
    assert err.value.translation_key == "no_firmware"
    assert nodes.all == []


async def test_only_admins_update_firmware(
    hass: HomeAssistant,
    fleet: list[MockConfigEntry],
    nodes: Nodes,  # noqa: F811
    hass_read_only_user: User,
) -> None:
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "ota_update",
            {"device_id": [device_id(hass, "node-0")]},
            blocking=True,
            context=Context(user_id=hass_read_only_user.id),
        )
    assert nodes.all == []


async def test_update_entity_of_the_default_node(
    *,
    hass: HomeAssistant,
    firmware: Path,  # noqa: F811
    ftp_settings: int,  # noqa: F811
    loaded_entry: MockConfigEntry,
    nodes: Nodes,  # noqa: F811
    announce: dict[str, Any],
) -> None:
    """The service runs the same job as the entity: in progress, progress %, result."""
    entity = update_entity_id(hass, NODE_ID)
    task = hass.async_create_task(ota_update(hass, entity_id=[entity], version="1.3.0"))
    await nodes.next_command()
    send(hass, NODE_ID, "ota/status", status("downloading", "1.3.0", 60))
    await asyncio.sleep(0)
    state = hass.states.get(entity)
    assert state is not None
    assert state.attributes["in_progress"] is True
    assert state.attributes["update_percentage"] == 60
    reboot_into(hass, NODE_ID, announce, "1.3.0")
    response = await task
    assert response["nodes"][NODE_ID]["result"] == "done"
    state = hass.states.get(entity)
    assert state is not None
    assert state.attributes["installed_version"] == "1.3.0"
    assert state.attributes["latest_version"] == "1.4.0"
    assert state.attributes["last_result"] == "done"
