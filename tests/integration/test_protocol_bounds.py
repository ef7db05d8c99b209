"""Bounds on every field a node sends (docs/protocol.md, "Bounds on node payloads")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from custom_components.microhome import protocol
from custom_components.microhome.protocol import ProtocolError

SURROGATE = "\ud800"


def announce_with(vectors: dict[str, Any], **fields: Any) -> str:
    return json.dumps(vectors["node_payloads"]["announce"] | fields)


def telemetry_with(vectors: dict[str, Any], **fields: Any) -> str:
    return json.dumps(vectors["node_payloads"]["telemetry"] | fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"fw": "1.2.3-rc.1"},
        {"fw": "10.20.30+build.7"},
        {"mpy": "1.25.0"},
        {"ip": ""},
        {"ip": "10.0.0.1"},
        {"ip": "fd00::1"},
        {"mac": ""},
        {"mac": "AA:BB:CC:DD:EE:FF"},
        {"name": ""},
        {"name": "Küche oben"},
        {"board": "Generic ESP32 module with ESP32"},
        {"caps": []},
        {"cfg": 2**63},
    ],
)
def test_announce_accepts_what_the_contract_allows(
    vectors: dict[str, Any], fields: dict[str, Any]
) -> None:
    announce = protocol.parse_announce(announce_with(vectors, **fields))
    assert {name: getattr(announce, name) for name in fields} == {
        name: tuple(value) if isinstance(value, list) else value for name, value in fields.items()
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"board": SURROGATE}, "board: .* unprintable"),
        ({"board": "a\nb"}, "board: .* unprintable"),
        ({"board": "b" * 65}, "board: longer than 64"),
        ({"name": "Kitchen\u202e"}, "name: .* unprintable"),
        ({"fw": "0.1.0<script>"}, "fw: .* is not"),
        ({"fw": SURROGATE}, "fw: .* is not"),
        ({"fw": "1." * 20 + "1"}, "fw: .* is not"),
        ({"mpy": "v1.24"}, "mpy: .* is not"),
        ({"mac": "aa:bb:cc:dd:ee"}, "mac: .* is not"),
        ({"ip": "<script>"}, "ip: .* is not an IP address"),
        ({"ip": "fe80::1%eth0"}, "ip: .* is not an IP address"),
        ({"key_id": "641B0E32"}, "key_id: .* is not"),
        ({"caps": ["dht22"] * 33}, "caps: expected a list of strings"),
        ({"caps": ["<b>"]}, "caps: expected a list of strings"),
        ({"cfg": 2**64}, "cfg: .* is not in 0-"),
    ],
)
def test_announce_refuses_hostile_fields(
    vectors: dict[str, Any], fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProtocolError, match=message):
        protocol.parse_announce(announce_with(vectors, **fields))


@pytest.mark.parametrize(
    "text",
    [
        '{"uptime": 1, "rssi": NaN, "mem_free": 1, "mem_alloc": 1, "reset_cause": "x"}',
        '{"uptime": 1, "rssi": Infinity, "mem_free": 1, "mem_alloc": 1, "reset_cause": "x"}',
        '{"uptime": 1, "rssi": -Infinity, "mem_free": 1, "mem_alloc": 1, "reset_cause": "x"}',
        '{"uptime": 1, "rssi": 1e400, "mem_free": 1, "mem_alloc": 1, "reset_cause": "x"}',
        '{"uptime": 1, "rssi": 99999999999999999999, "mem_free": 1, "mem_alloc": 1, '
        '"reset_cause": "x"}'.replace("99999999999999999999", "9" * 400),
        '{"uptime": 1, "rssi": 18446744073709551616, "mem_free": 1, "mem_alloc": 1, '
        '"reset_cause": "x"}',
    ],
)
def test_telemetry_refuses_rssi_out_of_range(text: str) -> None:
    with pytest.raises(ProtocolError, match=r"rssi: .* is not in -150-50"):
        protocol.parse_telemetry(text)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ip": "<script>"}, "ip: "),
        ({"ip": "\x00"}, "ip: "),
        ({"ip": "1" * 256}, "ip: "),
        ({"ip": SURROGATE}, "ip: "),
        ({"uptime": -1}, "uptime: "),
        ({"uptime": 2**53}, "uptime: "),
        ({"mem_free": 2**32}, "mem_free: "),
        ({"boot": 2**64}, "boot: "),
        ({"cfg": -1}, "cfg: "),
        ({"reset_cause": "a\nb"}, "reset_cause: "),
        ({"reset_cause": "c" * 33}, "reset_cause: "),
    ],
)
def test_telemetry_refuses_hostile_fields(
    vectors: dict[str, Any], fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProtocolError, match=message):
        protocol.parse_telemetry(telemetry_with(vectors, **fields))


def test_telemetry_keeps_valid_values(vectors: dict[str, Any]) -> None:
    telemetry = protocol.parse_telemetry(
        telemetry_with(vectors, rssi=-60.6, ip="2001:db8::7", boot=3, cfg=7)
    )
    assert (telemetry.rssi, telemetry.ip, telemetry.boot, telemetry.cfg) == (
        -61,
        "2001:db8::7",
        3,
        7,
    )
    assert protocol.parse_telemetry(telemetry_with(vectors, rssi=None)).rssi is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"t": 1e308}, r"entries\[0\]\.t: expected int"),
        ({"t": 10**308}, r"entries\[0\]\.t: .* is not in 0-"),
        ({"t": 2**64}, r"entries\[0\]\.t: "),
        ({"seq": 2**64}, r"entries\[0\]\.seq: "),
        ({"seq": -1}, r"entries\[0\]\.seq: "),
    ],
)
def test_log_refuses_numbers_out_of_range(entry: dict[str, Any], message: str) -> None:
    base = {"seq": 0, "t": 1, "lvl": "I", "src": "home", "msg": "m"}
    with pytest.raises(ProtocolError, match=message):
        protocol.parse_log(json.dumps({"boot": 1, "entries": [base | entry]}))
    with pytest.raises(ProtocolError, match="boot: "):
        protocol.parse_log(json.dumps({"boot": 2**64, "entries": []}))


def test_free_text_is_escaped_and_cut() -> None:
    state = protocol.parse_config_state(
        json.dumps(
            {"version": 1, "ok": False, "errors": ["a\nb", SURROGATE, "x" * 600, *"e" * 200]}
        )
    )
    assert state.errors[:3] == ("a\\nb", "\\ud800", "x" * 511 + "\u2026")
    assert len(state.errors) == protocol.ERRORS_MAX
    reply = protocol.parse_reply('{"n": 1, "ok": false, "error": "bad\\u001b[31m"}')
    assert reply.error == "bad\\x1b[31m"
    ota = protocol.parse_ota_status(
        '{"state": "failed", "version": "?", "progress": 0, "error": "boom\\n"}'
    )
    assert (ota.version, ota.error) == ("?", "boom\\n")
    with pytest.raises(ProtocolError, match="version: "):
        protocol.parse_ota_status(
            '{"state": "failed", "version": "<b>", "progress": 0, "error": null}'
        )
    climate = protocol.parse_state("dht22", '{"error": "\\r\\nfake"}')
    assert climate.error == "\\r\\nfake"


def test_deep_nesting_is_refused_not_raised() -> None:
    deep = "[" * 8000 + "]" * 8000
    for name in ("id", "uptime", "boot", "errors", "state", "n"):
        payload = f'{{"{name}": {deep}, "entries": {deep}}}'
        for parser in (
            protocol.parse_announce,
            protocol.parse_telemetry,
            protocol.parse_log,
            protocol.parse_config_state,
            protocol.parse_ota_status,
            protocol.parse_reply,
        ):
            with pytest.raises(ProtocolError):
                parser(payload)
    key = b"k" * 32
    with pytest.raises(ProtocolError, match=r"^n: body is not"):
        protocol.verify(key, "t", protocol.signed_payload(key, "t", "[" * 8000))


def test_error_messages_stay_short() -> None:
    with pytest.raises(ProtocolError) as err:
        protocol.parse_announce(json.dumps({"id": "x" * 10000}))
    assert len(str(err.value)) < 200
