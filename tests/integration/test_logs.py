"""Log ingestion: history, gaps, reboots, events, logger levels, persistence, bad payloads."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    async_capture_events,
    async_fire_mqtt_message,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.microhome.const import DOMAIN
from custom_components.microhome.logs import (
    DATA_LOGS,
    STORAGE_KEY,
    LogFilter,
    LogManager,
    record_as_dict,
)
from custom_components.microhome.protocol import ProtocolError, parse_log

NODE = "mh-a1b2c3"
OTHER = "mh-d4e5f6"


def entry(seq: int, msg: str, lvl: str = "I", src: str = "home", t: int | None = None) -> dict:
    """One log entry as the firmware sends it."""
    return {
        "seq": seq,
        "t": 1000 + seq * 10 if t is None else t,
        "lvl": lvl,
        "src": src,
        "msg": msg,
    }


async def send_log(hass: HomeAssistant, node: str, boot: int, entries: list[dict]) -> None:
    """Publish one `log` batch from `node` and let Home Assistant handle it."""
    payload = json.dumps({"boot": boot, "entries": entries})
    async_fire_mqtt_message(hass, f"microhome/{node}/log", payload)
    await hass.async_block_till_done()


def history(hass: HomeAssistant, node: str | None = None, **filters: Any) -> list[dict]:
    """Every stored line (oldest first) as the websocket API returns them."""
    nodes = None if node is None else frozenset([node])
    records, _more = hass.data[DATA_LOGS].query(LogFilter(nodes=nodes, **filters), 100_000)
    return [record_as_dict(record) for record in reversed(records)]


def messages(hass: HomeAssistant, node: str | None = None) -> list[str]:
    return [line["message"] for line in history(hass, node) if line["kind"] == "log"]


@pytest.fixture
async def microhome(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes
) -> LogManager:
    """MicroHome set up (no node configured) with MQTT; returns the log store."""
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    return hass.data[DATA_LOGS]


async def test_vector_batch_is_stored_with_a_boot_marker(
    hass: HomeAssistant, microhome: LogManager, vectors: dict[str, Any]
) -> None:
    async_fire_mqtt_message(
        hass, f"microhome/{NODE}/log", json.dumps(vectors["node_payloads"]["log"])
    )
    await hass.async_block_till_done()

    lines = history(hass, NODE)
    assert [(line["kind"], line["level"], line["source"], line["message"]) for line in lines] == [
        ("boot", "I", "microhome", "boot 12"),
        ("log", "I", "home", "boot 12"),
        ("log", "W", "wifi", "retrying"),
    ]
    assert [line["boot"] for line in lines] == [12, 12, 12]
    assert lines[2]["seq"] == 1 and lines[2]["t"] == 1200
    assert microhome.nodes[NODE].lost == 0


async def test_times_come_from_the_node_clock(hass: HomeAssistant, microhome: LogManager) -> None:
    before = dt_util.utcnow().timestamp()
    await send_log(hass, NODE, 1, [entry(0, "a", t=1_000), entry(1, "b", t=3_500)])
    after = dt_util.utcnow().timestamp()
    first, second = (line for line in history(hass, NODE) if line["kind"] == "log")
    assert second["time"] - first["time"] == pytest.approx(2.5)
    assert before <= second["time"] <= after


async def test_gaps_are_counted_and_marked(hass: HomeAssistant, microhome: LogManager) -> None:
    await send_log(hass, NODE, 3, [entry(0, "zero"), entry(1, "one")])
    await send_log(hass, NODE, 3, [entry(5, "five"), entry(6, "six")])
    await send_log(hass, NODE, 3, [entry(9, "nine")])

    assert microhome.nodes[NODE].lost == 5
    gaps = [line["message"] for line in history(hass, NODE) if line["kind"] == "gap"]
    assert gaps == ["3 log lines lost", "2 log lines lost"]
    assert messages(hass, NODE) == ["zero", "one", "five", "six", "nine"]


async def test_an_empty_batch_only_marks_the_node_seen(
    hass: HomeAssistant, microhome: LogManager
) -> None:
    await send_log(hass, NODE, 3, [entry(0, "zero")])
    seen = microhome.nodes[NODE].last_seen
    await send_log(hass, NODE, 3, [])
    assert messages(hass, NODE) == ["zero"]
    assert len(history(hass, NODE)) == 2
    assert microhome.nodes[NODE].last_seen >= seen


async def test_redelivered_lines_are_not_stored_twice(
    hass: HomeAssistant, microhome: LogManager
) -> None:
    await send_log(hass, NODE, 3, [entry(0, "zero"), entry(1, "one")])
    await send_log(hass, NODE, 3, [entry(0, "zero"), entry(1, "one"), entry(2, "two")])
    assert messages(hass, NODE) == ["zero", "one", "two"]
    assert microhome.nodes[NODE].lost == 0


async def test_a_new_boot_is_marked_and_restarts_seq(
    hass: HomeAssistant, microhome: LogManager
) -> None:
    await send_log(hass, NODE, 3, [entry(0, "a"), entry(1, "b"), entry(2, "c")])
    await send_log(hass, NODE, 4, [entry(0, "after reboot")])
    await send_log(hass, NODE, 5, [entry(2, "lost two at start")])

    lines = history(hass, NODE)
    kinds = [(line["kind"], line["message"]) for line in lines]
    assert kinds == [
        ("boot", "boot 3"),
        ("log", "a"),
        ("log", "b"),
        ("log", "c"),
        ("boot", "boot 4"),
        ("log", "after reboot"),
        ("boot", "boot 5"),
        ("gap", "2 log lines lost"),
        ("log", "lost two at start"),
    ]
    assert microhome.nodes[NODE].lost == 2
    assert microhome.nodes[NODE].boot == 5


async def test_warnings_and_above_fire_events(hass: HomeAssistant, microhome: LogManager) -> None:
    events = async_capture_events(hass, "microhome_log")
    await send_log(
        hass,
        NODE,
        1,
        [
            entry(0, "debug", "D"),
            entry(1, "info", "I"),
            entry(2, "weak signal", "W", "wifi"),
            entry(3, "sensor timeout", "E", "dht22"),
            entry(4, "out of memory", "C", "home"),
        ],
    )
    assert [event.data for event in events] == [
        {"node_id": NODE, "level": "W", "source": "wifi", "message": "weak signal"},
        {"node_id": NODE, "level": "E", "source": "dht22", "message": "sensor timeout"},
        {"node_id": NODE, "level": "C", "source": "home", "message": "out of memory"},
    ]


async def test_every_line_goes_to_the_node_logger(
    hass: HomeAssistant, microhome: LogManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=f"custom_components.microhome.node.{NODE}")
    await send_log(
        hass,
        NODE,
        1,
        [entry(i, f"line {lvl}", lvl, "mqtt") for i, lvl in enumerate("DIWEC")],
    )
    node_records = [
        (record.levelno, record.getMessage())
        for record in caplog.records
        if record.name == f"custom_components.microhome.node.{NODE}"
    ]
    assert node_records == [
        (logging.DEBUG, "mqtt: line D"),
        (logging.INFO, "mqtt: line I"),
        (logging.WARNING, "mqtt: line W"),
        (logging.ERROR, "mqtt: line E"),
        (logging.CRITICAL, "mqtt: line C"),
    ]


async def test_malformed_payloads_are_dropped_and_warned_once(
    hass: HomeAssistant,
    microhome: LogManager,
    vectors: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await send_log(hass, NODE, 1, [entry(0, "good")])
    events = async_capture_events(hass, "microhome_log")
    for payload in vectors["malformed_node_payloads"]["log"]:
        async_fire_mqtt_message(hass, f"microhome/{NODE}/log", payload)
        await hass.async_block_till_done()
    async_fire_mqtt_message(hass, "microhome/Bad Id/log", json.dumps({"boot": 1, "entries": []}))
    await hass.async_block_till_done()

    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "malformed log payload" in r.getMessage()
    ]
    assert len(warnings) == 2
    assert warnings[0].startswith(f"Dropped malformed log payload from {NODE}: ")
    assert "Bad Id" in warnings[1]
    assert messages(hass) == ["good"]
    assert set(microhome.nodes) == {NODE}
    assert events == []
    # The node keeps being heard after bad payloads.
    await send_log(hass, NODE, 1, [entry(1, "still here")])
    assert messages(hass, NODE) == ["good", "still here"]


async def test_history_is_bounded_per_node(hass: HomeAssistant, microhome: LogManager) -> None:
    microhome.async_set_max_entries(100)
    await send_log(hass, NODE, 1, [entry(i, f"n{i}") for i in range(150)])
    await send_log(hass, OTHER, 1, [entry(i, f"o{i}") for i in range(10)])
    assert messages(hass, NODE) == [f"n{i}" for i in range(50, 150)]
    assert len(messages(hass, OTHER)) == 10


async def test_history_survives_a_restart(
    hass: HomeAssistant,
    microhome: LogManager,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    await send_log(hass, NODE, 7, [entry(0, "zero"), entry(3, "three", "E", "dht22")])
    await send_log(hass, OTHER, 2, [entry(0, "other <b>node</b>")])
    assert f"{STORAGE_KEY}.{NODE}" not in hass_storage  # writes wait a little

    freezer.tick(timedelta(seconds=30))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass_storage[STORAGE_KEY]["data"] == {"nodes": [NODE, OTHER]}
    assert len(hass_storage[f"{STORAGE_KEY}.{NODE}"]["data"]["entries"]) == 4

    before = history(hass)
    restarted = LogManager(hass, parse_log, (ProtocolError,), 5000)
    await restarted.async_load()
    restored, _more = restarted.query(LogFilter(), 1000)
    assert [record_as_dict(r) for r in reversed(restored)] == before
    assert restarted.nodes[NODE].lost == 2
    assert restarted.nodes[NODE].boot == 7

    # Ids keep growing and gaps keep being counted after the restart.
    restarted.ingest(NODE, parse_log(json.dumps({"boot": 7, "entries": [entry(4, "four")]})), 0)
    newest, _more = restarted.query(LogFilter(nodes=frozenset([NODE])), 1)
    assert newest[0][0] > max(line["id"] for line in before)
    assert restarted.nodes[NODE].lost == 2


async def test_a_busy_node_is_saved_while_it_keeps_logging(
    hass: HomeAssistant,
    microhome: LogManager,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    """Saving is throttled, not postponed until the node is quiet."""
    for second in range(40):
        await send_log(hass, NODE, 1, [entry(second, f"line {second}")])
        freezer.tick(timedelta(seconds=1))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    saved = hass_storage[f"{STORAGE_KEY}.{NODE}"]["data"]["entries"]
    assert len(saved) >= 1 + 25  # the boot marker and most lines, written while logging


async def test_unreadable_storage_drops_only_that_node(
    hass: HomeAssistant, hass_storage: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    def stored(key: str, data: Any) -> None:
        hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": data}

    good = {"boot": 2, "next_seq": 1, "lost": 0, "last_seen": 5.0, "boot_time": 1.0}
    stored(STORAGE_KEY, {"nodes": [NODE, OTHER, "Bad Id"]})
    stored(f"{STORAGE_KEY}.{NODE}", {**good, "entries": [["x"]]})
    stored(
        f"{STORAGE_KEY}.{OTHER}", {**good, "entries": [[7, 1.5, 2, 0, 500, "I", "h", "hi", "log"]]}
    )
    manager = LogManager(hass, parse_log, (ProtocolError,), 5000)
    await manager.async_load()
    assert list(manager.nodes) == [OTHER]
    assert f"Stored MicroHome logs of {NODE} are unreadable" in caplog.text
    records, _more = manager.query(LogFilter(), 10)
    assert [record_as_dict(r)["message"] for r in records] == ["hi"]
    manager.ingest(OTHER, parse_log(json.dumps({"boot": 2, "entries": [entry(1, "next")]})), 9)
    assert manager.query(LogFilter(), 1)[0][0][0] == 8


async def test_ingestion_follows_mqtt_being_set_up_later(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, fleet_key: bytes
) -> None:
    """MicroHome set up before MQTT reloads: the log topic is subscribed again."""
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    mqtt_entry = hass.config_entries.async_entries("mqtt")[0]
    assert await hass.config_entries.async_reload(mqtt_entry.entry_id)
    await hass.async_block_till_done()

    await send_log(hass, NODE, 1, [entry(0, "after reload")])
    assert messages(hass, NODE) == ["after reload"]


async def test_history_is_written_when_home_assistant_stops(
    hass: HomeAssistant, microhome: LogManager, hass_storage: dict[str, Any]
) -> None:
    """Lines that arrive just before a stop are not lost with the save throttle."""
    await send_log(hass, NODE, 3, [entry(0, "just before the stop")])
    assert f"{STORAGE_KEY}.{NODE}" not in hass_storage
    hass.set_state(CoreState.final_write)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_FINAL_WRITE)
    await hass.async_block_till_done()
    saved = hass_storage[f"{STORAGE_KEY}.{NODE}"]["data"]["entries"]
    assert [line[-2] for line in saved if line[-2] == "just before the stop"] == [
        "just before the stop"
    ]
