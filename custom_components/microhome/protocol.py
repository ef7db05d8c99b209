"""The MicroHome MQTT protocol (docs/protocol.md): topics, signing, keys, parsing, validation.

Plain Python with no Home Assistant imports, so tools and tests can use it on their own.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from .catalogue import (
    FILTER_DISTINCT,
    FILTER_PARAMS,
    I2C_BUSES_MAX,
    I2C_FREQ,
    I2C_FREQ_DEFAULT,
    MAX_PERIPHERALS,
    NAME_MAX,
    PLATFORMS,
    TELEMETRY_INTERVAL,
    TYPES,
    Param,
    PeripheralType,
    Pin,
    i2c_controller,
    i2c_pin_error,
    pin_error,
    pins,
)

PREFIX: Final = "microhome"
DISCOVER_TOPIC: Final = f"{PREFIX}/discover"
ANNOUNCE_SUBSCRIPTION: Final = f"{PREFIX}/+/announce"
MAX_PAYLOAD_BYTES: Final = 16384
# After a power cut a node refuses every `n` up to this many (ms) past the last it accepted
# (docs/protocol.md, "Replay protection across reboots").
N_RESERVED_AHEAD: Final = 60000

NODE_ID_RE: Final = re.compile(r"[a-z0-9_-]{1,32}")
SENSOR_ID_RE: Final = re.compile(r"[a-z0-9_]{1,16}")
SIGNATURE_RE: Final = re.compile(r"[0-9a-f]{64}")
ROM_RE: Final = re.compile(r"[0-9a-f]{16}")  # a 1-Wire ROM code: family, serial, CRC
VERSION_RE: Final = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.]+)?")
MAC_RE: Final = re.compile(r"(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}")
KEY_ID_RE: Final = re.compile(r"[0-9a-f]{8}")
IP_CHARS_RE: Final = re.compile(r"[0-9A-Fa-f:.]{2,45}")

LOG_LEVELS: Final = ("D", "I", "W", "E", "C")
# The names of the log levels where a key must be lower-case words (selectors, the panel).
LOG_LEVEL_NAMES: Final = {"D": "debug", "I": "info", "W": "warning", "E": "error", "C": "critical"}
OTA_STATES: Final = (
    "idle",
    "downloading",
    "verifying",
    "applying",
    "rebooting",
    "done",
    "failed",
    "rolled_back",
)

IDENTIFY_SECONDS: Final = (1, 300)

# Bounds on what a node sends (docs/protocol.md, "Bounds on node payloads").
COUNTER_MAX: Final = 2**53 - 1  # counters and times: exact in JSON and JavaScript
VERSION_MAX: Final = 2**63  # configuration versions and `n`, as validate_config allows
BYTES_MAX: Final = 2**32 - 1  # a memory size on a 32-bit board
RSSI_RANGE: Final = (-150, 50)
VERSION_LEN: Final = 32
UNKNOWN_VERSION: Final = "?"  # ota/status of an update whose target the node lost
ANNOUNCE_NAME_MAX: Final = 64
BOARD_MAX: Final = 64
RESET_CAUSE_MAX: Final = 32
CAPS_MAX: Final = 32
LOG_SOURCE_MAX: Final = 64
LOG_MESSAGE_MAX: Final = 1024
ERROR_MAX: Final = 512
ERRORS_MAX: Final = 128
FOUND_MAX: Final = 128  # devices a `scan` reply lists
I2C_ADDRESS_MAX: Final = 127


class ProtocolError(ValueError):
    """A payload or configuration that breaks the protocol; the message says what is wrong."""


# --- topics -----------------------------------------------------------------------------------


def topic(node_id: str, suffix: str) -> str:
    """The topic `microhome/<node_id>/<suffix>`."""
    return f"{PREFIX}/{node_id}/{suffix}"


def state_topic(node_id: str, sensor_id: str) -> str:
    """The retained state topic of one sensor."""
    return topic(node_id, f"state/{sensor_id}")


def node_id_from_topic(mqtt_topic: str) -> str:
    """The node id in a `microhome/<id>/...` topic; ProtocolError if there is none."""
    parts = mqtt_topic.split("/")
    if len(parts) < 3 or parts[0] != PREFIX or not is_node_id(parts[1]):
        raise ProtocolError(f"not a MicroHome node topic: {mqtt_topic!r}")
    return parts[1]


def is_node_id(value: object) -> bool:
    """Whether value is a valid node id."""
    return isinstance(value, str) and NODE_ID_RE.fullmatch(value) is not None


def is_sensor_id(value: object) -> bool:
    """Whether value is a valid sensor id."""
    return isinstance(value, str) and SENSOR_ID_RE.fullmatch(value) is not None


# --- keys and signing -------------------------------------------------------------------------


def node_key(fleet_key: bytes, node_id: str) -> bytes:
    """The node key: HMAC-SHA256(fleet_key, node_id)."""
    return hmac.new(fleet_key, node_id.encode(), hashlib.sha256).digest()


def key_id(key: bytes) -> str:
    """The key id: the first 8 hex characters of sha256(node key)."""
    return hashlib.sha256(key).hexdigest()[:8]


def sign(key: bytes, mqtt_topic: str, body: str) -> str:
    """The 64 lower-case hex HMAC-SHA256 of `topic + "\\n" + body` under key."""
    return hmac.new(key, f"{mqtt_topic}\n{body}".encode(), hashlib.sha256).hexdigest()


def dump_body(body: dict[str, Any]) -> str:
    """A body as compact JSON, the exact text that is signed and sent."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def signed_payload(key: bytes, mqtt_topic: str, body: dict[str, Any] | str) -> str:
    """`<signature> <body>` for a body (a dict is serialised compactly first)."""
    text = body if isinstance(body, str) else dump_body(body)
    return f"{sign(key, mqtt_topic, text)} {text}"


def verify(key: bytes, mqtt_topic: str, payload: str | bytes) -> dict[str, Any]:
    """The body of a signed payload, checked the way a node checks it (signature, then `n`)."""
    text = _text(payload)
    signature, _, body = text.partition(" ")
    if SIGNATURE_RE.fullmatch(signature) is None:
        raise ProtocolError("signature: missing or not 64 lower-case hex characters")
    if not hmac.compare_digest(signature, sign(key, mqtt_topic, body)):
        raise ProtocolError("signature: does not match")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise ProtocolError("n: body is not JSON") from err
    if not isinstance(data, dict) or not _is_int(data.get("n")):
        raise ProtocolError("n: body is not a JSON object with an integer n")
    return data


def command_body(n: int, cmd: str, **fields: Any) -> dict[str, Any]:
    """A command body: `n`, `cmd`, then the fields in order, None values left out."""
    return {"n": n, "cmd": cmd} | {k: v for k, v in fields.items() if v is not None}


# --- parsing helpers --------------------------------------------------------------------------


def _text(payload: str | bytes | bytearray) -> str:
    if isinstance(payload, str):
        size = len(payload.encode("utf-8", "surrogatepass"))
        text = payload
    else:
        size = len(payload)
        try:
            text = bytes(payload).decode()
        except UnicodeDecodeError as err:
            raise ProtocolError("payload is not UTF-8") from err
    if size > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload is {size} bytes, more than {MAX_PAYLOAD_BYTES}")
    return text


def check_size(payload: str | bytes | bytearray) -> None:
    """ProtocolError if payload is larger than 16 KB."""
    _text(payload)


def load_object(payload: str | bytes | bytearray) -> dict[str, Any]:
    """A payload parsed as a JSON object (size, UTF-8 and JSON checked)."""
    text = _text(payload)
    if not text.strip():
        raise ProtocolError("payload is empty")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ProtocolError(f"payload is not JSON: {describe(str(err), 120)}") from err
    if not isinstance(data, dict):
        raise ProtocolError(f"payload is not a JSON object but {type(data).__name__}")
    return data


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_CHECKS: Final[dict[str, Callable[[object], bool]]] = {
    "int": _is_int,
    "number": _is_number,
    "str": lambda value: isinstance(value, str),
    "bool": lambda value: isinstance(value, bool),
    "list": lambda value: isinstance(value, list),
}


def _get(data: dict[str, Any], name: str, kind: str, path: str = "") -> Any:
    """data[name] checked against kind: int, number, str, bool, int?, number?, str?, list."""
    where = f"{path}{name}"
    if name not in data:
        raise ProtocolError(f"{where}: missing")
    value = data[name]
    base = kind.rstrip("?")
    if kind.endswith("?") and value is None:
        return None
    if not _CHECKS[base](value):
        nullable = " or null" if kind.endswith("?") else ""
        raise ProtocolError(f"{where}: expected {base}{nullable}, got {describe(value)}")
    return value


def _range(value: float, low: float, high: float, where: str) -> None:
    if not low <= value <= high:
        raise ProtocolError(f"{where}: {describe(value)} is not in {low}-{high}")


def describe(value: object, limit: int = 60) -> str:
    """A value for an error message: its repr, shortened; containers only by their type."""
    if isinstance(value, list | dict):
        return f"a JSON {'array' if isinstance(value, list) else 'object'}"
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def escape_text(text: str, max_len: int) -> str:
    """text cut to max_len characters (an ellipsis marks the cut), unprintable ones escaped.

    Unprintable are control characters (newlines too), surrogates, format and unassigned
    characters; each becomes its Python escape (`\\n`, `\\x1b`, `\\ud800`).
    """
    if len(text) > max_len:
        text = text[: max_len - 1] + "\u2026"
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _int(data: dict[str, Any], name: str, low: int, high: int, path: str = "") -> int:
    value: int = _get(data, name, "int", path)
    _range(value, low, high, f"{path}{name}")
    return value


def _token(
    data: dict[str, Any], name: str, pattern: re.Pattern[str], max_len: int, path: str = ""
) -> str:
    """data[name]: a string matching pattern whole, at most max_len characters."""
    value: str = _get(data, name, "str", path)
    if len(value) > max_len or pattern.fullmatch(value) is None:
        raise ProtocolError(f"{path}{name}: {describe(value)} is not {pattern.pattern}")
    return value


def _name(data: dict[str, Any], name: str, max_len: int, path: str = "") -> str:
    """data[name]: printable text (no control characters or surrogates), at most max_len."""
    value: str = _get(data, name, "str", path)
    if len(value) > max_len:
        raise ProtocolError(f"{path}{name}: longer than {max_len} characters")
    if not value.isprintable():
        raise ProtocolError(f"{path}{name}: {describe(value)} has unprintable characters")
    return value


def _message(
    data: dict[str, Any], name: str, path: str = "", *, nullable: bool = False
) -> str | None:
    """data[name]: free text, cut to ERROR_MAX characters, unprintable ones escaped."""
    value: str | None = _get(data, name, "str?" if nullable else "str", path)
    return None if value is None else escape_text(value, ERROR_MAX)


def _ip(data: dict[str, Any], name: str) -> str:
    """data[name]: an IPv4 or IPv6 address, or empty (not connected)."""
    value: str = _get(data, name, "str")
    if value == "":
        return value
    try:
        if IP_CHARS_RE.fullmatch(value) is None:
            raise ValueError(value)
        ipaddress.ip_address(value)
    except ValueError:
        raise ProtocolError(f"{name}: {describe(value)} is not an IP address") from None
    return value


# --- node payloads ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Announce:
    """A node's announce."""

    id: str
    name: str
    platform: str
    board: str
    fw: str
    mpy: str
    mac: str
    ip: str
    caps: tuple[str, ...]
    cfg: int
    key_id: str
    safe_mode: str | None = None  # why the node booted without peripherals (optional field)

    def as_dict(self) -> dict[str, Any]:
        """The announce as the JSON object it came from."""
        body = asdict(self) | {"caps": list(self.caps)}
        if self.safe_mode is None:
            del body["safe_mode"]  # an optional field: only a node in safe mode sends it
        return body


def parse_announce(payload: str | bytes | bytearray, node_id: str | None = None) -> Announce:
    """An announce payload; node_id (from the topic) must match its `id` when given."""
    data = load_object(payload)
    ident = _get(data, "id", "str")
    if not is_node_id(ident):
        raise ProtocolError(f"id: {describe(ident)} is not a node id ([a-z0-9_-]{{1,32}})")
    if node_id is not None and ident != node_id:
        raise ProtocolError(f"id: {ident!r} does not match the topic's node id {node_id!r}")
    platform = _get(data, "platform", "str")
    if platform not in PLATFORMS:
        raise ProtocolError(f"platform: {describe(platform)} is not one of {', '.join(PLATFORMS)}")
    caps = _get(data, "caps", "list")
    if len(caps) > CAPS_MAX or not all(is_sensor_id(cap) for cap in caps):
        raise ProtocolError(
            f"caps: expected a list of strings ({SENSOR_ID_RE.pattern}, at most {CAPS_MAX})"
        )
    mac = _get(data, "mac", "str")
    if mac:
        mac = _token(data, "mac", MAC_RE, 17)
    return Announce(
        id=ident,
        name=_name(data, "name", ANNOUNCE_NAME_MAX),
        platform=platform,
        board=_name(data, "board", BOARD_MAX),
        fw=_token(data, "fw", VERSION_RE, VERSION_LEN),
        mpy=_token(data, "mpy", VERSION_RE, VERSION_LEN),
        mac=mac,
        ip=_ip(data, "ip"),
        caps=tuple(caps),
        cfg=_int(data, "cfg", 0, VERSION_MAX),
        key_id=_token(data, "key_id", KEY_ID_RE, 8),
        safe_mode=_message(data, "safe_mode", nullable=True) if "safe_mode" in data else None,
    )


def parse_status(payload: str | bytes | bytearray) -> bool:
    """`online` → True, `offline` or empty (a cleared retained status) → False."""
    text = _text(payload).strip()
    if text in ("online", "offline", ""):
        return text == "online"
    raise ProtocolError(f"status: expected online or offline, got {text[:40]!r}")


@dataclass(frozen=True, slots=True)
class Telemetry:
    """A node's telemetry."""

    uptime: int
    rssi: int | None
    mem_free: int
    mem_alloc: int
    reset_cause: str
    boot: int | None = None
    cfg: int | None = None
    ip: str | None = None


def parse_telemetry(payload: str | bytes | bytearray) -> Telemetry:
    """A telemetry payload (contract fields required; boot, cfg and ip optional)."""
    data = load_object(payload)
    rssi = _get(data, "rssi", "number?")
    if rssi is not None:
        _range(rssi, *RSSI_RANGE, "rssi")
    return Telemetry(
        uptime=_int(data, "uptime", 0, COUNTER_MAX),
        rssi=None if rssi is None else round(rssi),
        mem_free=_int(data, "mem_free", 0, BYTES_MAX),
        mem_alloc=_int(data, "mem_alloc", 0, BYTES_MAX),
        reset_cause=_name(data, "reset_cause", RESET_CAUSE_MAX),
        boot=_int(data, "boot", 0, COUNTER_MAX) if "boot" in data else None,
        cfg=_int(data, "cfg", 0, VERSION_MAX) if "cfg" in data else None,
        ip=_ip(data, "ip") if "ip" in data else None,
    )


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log line from a node."""

    seq: int
    t: int
    lvl: str
    src: str
    msg: str


@dataclass(frozen=True, slots=True)
class LogBatch:
    """One `log` message: the node's boot counter and its entries, oldest first."""

    boot: int
    entries: list[LogEntry] = field(default_factory=list)


def parse_log(payload: str | bytes | bytearray) -> LogBatch:
    """A `log` payload."""
    data = load_object(payload)
    boot = _int(data, "boot", 0, COUNTER_MAX)
    entries = []
    for index, item in enumerate(_get(data, "entries", "list")):
        path = f"entries[{index}]."
        if not isinstance(item, dict):
            raise ProtocolError(f"entries[{index}]: expected an object, got {describe(item)}")
        lvl = _get(item, "lvl", "str", path)
        if lvl not in LOG_LEVELS:
            raise ProtocolError(f"{path}lvl: {describe(lvl)} is not one of {' '.join(LOG_LEVELS)}")
        entries.append(
            LogEntry(
                seq=_int(item, "seq", 0, COUNTER_MAX, path),
                t=_int(item, "t", 0, COUNTER_MAX, path),
                lvl=lvl,
                src=_get(item, "src", "str", path),
                msg=_get(item, "msg", "str", path),
            )
        )
    return LogBatch(boot=boot, entries=entries)


@dataclass(frozen=True, slots=True)
class ConfigState:
    """A node's answer to a `config/set`."""

    version: int
    ok: bool
    errors: tuple[str, ...]


def parse_config_state(payload: str | bytes | bytearray) -> ConfigState:
    """A `config/state` payload."""
    data = load_object(payload)
    errors = _get(data, "errors", "list")
    if not all(isinstance(error, str) for error in errors):
        raise ProtocolError("errors: expected a list of strings")
    return ConfigState(
        version=_int(data, "version", 0, VERSION_MAX),
        ok=_get(data, "ok", "bool"),
        errors=tuple(escape_text(error, ERROR_MAX) for error in errors[:ERRORS_MAX]),
    )


@dataclass(frozen=True, slots=True)
class OtaStatus:
    """A node's `ota/status`."""

    state: str
    version: str
    progress: int
    error: str | None


def parse_ota_status(payload: str | bytes | bytearray) -> OtaStatus:
    """An `ota/status` payload."""
    data = load_object(payload)
    state = _get(data, "state", "str")
    if state not in OTA_STATES:
        raise ProtocolError(f"state: {describe(state)} is not one of {' '.join(OTA_STATES)}")
    version = _get(data, "version", "str")
    if version != UNKNOWN_VERSION:
        version = _token(data, "version", VERSION_RE, VERSION_LEN)
    return OtaStatus(
        state=state,
        version=version,
        progress=_int(data, "progress", 0, 100),
        error=_message(data, "error", nullable=True),
    )


@dataclass(frozen=True, slots=True)
class Reply:
    """A node's answer to a command."""

    n: int
    ok: bool
    error: str | None
    # A `scan`'s findings: ROM codes on a 1-Wire bus, addresses on an I2C bus.
    found: tuple[str | int, ...] = ()


def parse_reply(payload: str | bytes | bytearray) -> Reply:
    """A `reply` payload (`found` optional: the answer to a `scan`)."""
    data = load_object(payload)
    found = _get(data, "found", "list") if "found" in data else []
    if len(found) > FOUND_MAX or not all(_is_found(item) for item in found):
        raise ProtocolError(
            f"found: expected at most {FOUND_MAX} ROM codes ({ROM_RE.pattern}) or I2C addresses"
        )
    return Reply(
        n=_int(data, "n", 0, VERSION_MAX),
        ok=_get(data, "ok", "bool"),
        error=_message(data, "error", nullable=True) if "error" in data else None,
        found=tuple(found),
    )


def _is_found(item: object) -> bool:
    if isinstance(item, str):
        return ROM_RE.fullmatch(item) is not None
    return _is_int(item) and 0 <= item <= I2C_ADDRESS_MAX  # type: ignore[operator]


@dataclass(frozen=True, slots=True)
class PeripheralState:
    """A peripheral's `state/<sensor_id>`: its values, or the error of a failed reading."""

    values: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def parse_state(
    peripheral_type: str, payload: str | bytes | bytearray, *, retained: bool = False
) -> PeripheralState:
    """A `state/<sensor_id>` payload of a peripheral of peripheral_type (see the catalogue).

    A field told once (a button's event) is dropped from a retained payload: it is old.
    """
    data = load_object(payload)
    kind = TYPES.get(peripheral_type)
    if kind is None:
        raise ProtocolError(f"unknown peripheral type {describe(peripheral_type)}")
    if kind.state_error and "error" in data:
        return PeripheralState(error=_message(data, "error"))
    values: dict[str, Any] = {}
    for spec in kind.state:
        if (spec.once and (retained or spec.key not in data)) or (
            spec.optional and spec.key not in data
        ):
            continue
        value = _get(data, spec.key, spec.kind)
        if spec.choices and value not in spec.choices:
            choices = ", ".join(spec.choices)
            raise ProtocolError(f"{spec.key}: {describe(value)} is not one of {choices}")
        if spec.low is not None and spec.high is not None:
            _range(value, spec.low, spec.high, spec.key)
        values[spec.key] = float(value) if spec.kind == "number" else value
    return PeripheralState(values)


# --- configuration ----------------------------------------------------------------------------


def valid_pins(platform: str, peripheral_type: str) -> list[Pin]:
    """Every pin a peripheral of peripheral_type may use on platform, in order."""
    return list(pins(platform, TYPES[peripheral_type].role))


def parse_pin(text: str) -> Pin:
    """A pin typed by a user: `15`, `GP15`, `gpio15` or `LED`; ProtocolError otherwise."""
    value = text.strip()
    if value.upper() == "LED":
        return "LED"
    match = re.fullmatch(r"(?:gp|gpio)?(\d{1,2})", value, re.IGNORECASE)
    if match is None:
        raise ProtocolError(f"{text!r} is not a pin")
    return int(match.group(1))


def format_pin(pin: Pin) -> str:
    """A pin as shown to users."""
    return str(pin)


def validate_config(config: object, platform: str) -> list[str]:
    """Every problem with a whole `config/set` body for platform, each with its field path."""
    if not isinstance(config, dict):
        return ["config: expected an object"]
    errors: list[str] = []

    def check(name: str, kind: str, low: int | None = None, high: int | None = None) -> None:
        try:
            value = _get(config, name, kind)
            if low is not None and high is not None:
                _range(value, low, high, name)
        except ProtocolError as err:
            errors.append(str(err))

    check("n", "int")
    check("version", "int", 0, 2**63)
    check("telemetry_interval", "int", *TELEMETRY_INTERVAL)
    check("name", "str")
    if isinstance(config.get("name"), str) and len(config["name"]) > NAME_MAX:
        errors.append(f"name: longer than {NAME_MAX} characters")
    if config.get("log_level") not in LOG_LEVELS:
        levels = " ".join(LOG_LEVELS)
        errors.append(f"log_level: {config.get('log_level')!r} is not one of {levels}")
    peripherals = config.get("sensors")
    if not isinstance(peripherals, list):
        errors.append("sensors: expected a list")
        return errors
    if len(peripherals) > MAX_PERIPHERALS:
        errors.append(f"sensors: more than {MAX_PERIPHERALS}")
    ids: set[str] = set()
    used = _Taken()
    seen: set[str] = set()
    for index, peripheral in enumerate(peripherals):
        errors.extend(_peripheral_errors(peripheral, index, platform, ids, used))
        kind = peripheral.get("type") if isinstance(peripheral, dict) else None
        if isinstance(kind, str) and kind in TYPES and TYPES[kind].single:
            if kind in seen:
                errors.append(f"sensors[{index}].type: only one {kind}")
            seen.add(kind)
    return errors


@dataclass(slots=True)
class _Taken:
    """What the peripherals checked so far hold: each pin by its owner (a peripheral, an I2C
    bus, a 1-Wire bus), and each I2C bus (by SDA and SCL) with its frequency and addresses."""

    pins: dict[object, object] = field(default_factory=dict)
    buses: dict[tuple[Pin, Pin], tuple[int, set[int]]] = field(default_factory=dict)
    roms: set[tuple[object, str]] = field(default_factory=set)

    def take(self, pin: object, owner: object, where: str) -> list[str]:
        """pin for owner; the error if another owner has it."""
        if self.pins.setdefault(pin, owner) != owner:
            return [f"{where}: {pin} used twice"]
        return []


def _i2c_errors(
    peripheral: dict[str, Any], kind: PeripheralType, path: str, platform: str, used: _Taken
) -> list[str]:
    """The `bus` and `address` of a device on an I2C bus."""
    bus = peripheral.get("bus")
    if not isinstance(bus, dict):
        return [f"{path}.bus: expected an object"]
    errors = []
    for line in ("sda", "scl"):
        reason = pin_error(platform, kind.key, bus.get(line))
        if reason is not None:
            errors.append(f"{path}.bus.{line}: {reason}")
    freq = bus.get("freq", I2C_FREQ_DEFAULT)
    if not _is_int(freq):
        errors.append(f"{path}.bus.freq: expected int, got {freq!r}")
    elif not I2C_FREQ[0] <= freq <= I2C_FREQ[1]:
        errors.append(f"{path}.bus.freq: {freq} is not in {I2C_FREQ[0]}-{I2C_FREQ[1]}")
    if errors:
        return errors
    sda, scl = bus["sda"], bus["scl"]
    if (wrong := i2c_pin_error(platform, sda, scl)) is not None:
        return [f"{path}.bus.{wrong[0]}: {wrong[1]}"]
    on = f"the bus on SDA {sda} SCL {scl}"
    known = used.buses.get((sda, scl))
    if known is None:
        if len(used.buses) >= I2C_BUSES_MAX:
            return [f"{path}.bus: a third I2C bus (at most {I2C_BUSES_MAX})"]
        controller = i2c_controller(platform, sda)
        for other_sda, other_scl in used.buses:
            if platform == "rp2" and i2c_controller(platform, other_sda) == controller:
                taken = f"the bus on SDA {other_sda} SCL {other_scl}"
                return [f"{path}.bus: I2C{controller} already runs {taken}"]
        known = used.buses[(sda, scl)] = (freq, set())
    elif known[0] != freq:
        errors.append(f"{path}.bus.freq: {freq} differs from {known[0]} of {on}")
    owner = ("i2c", sda, scl)
    errors += used.take(sda, owner, f"{path}.bus.sda") + used.take(scl, owner, f"{path}.bus.scl")
    address = peripheral.get("address", kind.addresses[0])
    if not _is_int(address) or address not in kind.addresses:
        choices = ", ".join(f"0x{a:02x}" for a in kind.addresses)
        errors.append(f"{path}.address: {address!r} is not one of {choices}")
    elif address in known[1]:
        errors.append(f"{path}.address: 0x{address:02x} used twice on {on}")
    else:
        known[1].add(address)
    return errors


def _onewire_errors(
    peripheral: dict[str, Any], kind: PeripheralType, path: str, platform: str, used: _Taken
) -> list[str]:
    """The `pin` and `rom` of a probe on a 1-Wire bus (probes share their bus's pin)."""
    pin = peripheral.get("pin")
    reason = pin_error(platform, kind.key, pin)
    owner = ("onewire", pin)
    errors = [f"{path}.pin: {reason}"] if reason else used.take(pin, owner, f"{path}.pin")
    rom = peripheral.get("rom")
    if not isinstance(rom, str) or ROM_RE.fullmatch(rom) is None:
        errors.append(f"{path}.rom: {rom!r} is not a ROM code (16 hex digits)")
    elif (pin, rom) in used.roms:
        errors.append(f"{path}.rom: {rom} used twice on pin {pin}")
    else:
        used.roms.add((pin, rom))
    return errors


def _peripheral_errors(
    peripheral: object, index: int, platform: str, ids: set[str], used: _Taken
) -> list[str]:
    path = f"sensors[{index}]"
    if not isinstance(peripheral, dict):
        return [f"{path}: expected an object"]
    errors = []
    ident = peripheral.get("id")
    if not isinstance(ident, str) or not is_sensor_id(ident):
        errors.append(f"{path}.id: {ident!r} is not a sensor id ([a-z0-9_]{{1,16}})")
    elif ident in ids:
        errors.append(f"{path}.id: {ident} used twice")
    else:
        ids.add(ident)
    type_key = peripheral.get("type")
    kind = TYPES.get(type_key) if isinstance(type_key, str) else None
    if kind is None:
        names = ", ".join(TYPES)
        errors.append(f"{path}.type: {type_key!r} is not one of {names}")
        return errors
    if kind.bus == "i2c":
        errors += _i2c_errors(peripheral, kind, path, platform, used)
    elif kind.bus == "onewire":
        errors += _onewire_errors(peripheral, kind, path, platform, used)
    else:
        pin = peripheral.get("pin")
        reason = pin_error(platform, kind.key, pin)
        if reason is not None:
            errors.append(f"{path}.pin: {reason}")
        else:
            errors += used.take(pin, index, f"{path}.pin")
    errors += _param_errors(peripheral, kind.params, kind.distinct, path)
    filters = peripheral.get("filters")
    if filters is not None:
        errors += _filter_errors(filters, kind, f"{path}.filters")
    return errors


def param_error(param: Param, value: object) -> str | None:
    """Why value cannot be param's value, or None if it can."""
    if param.kind == "bool":
        return None if isinstance(value, bool) else f"expected bool, got {value!r}"
    if param.kind == "choice":
        if isinstance(value, str) and value in param.choices:
            return None
        return f"{value!r} is not one of {', '.join(param.choices)}"
    if param.kind == "str":
        if not isinstance(value, str):
            return f"expected str, got {value!r}"
        return None if len(value) <= param.high else f"longer than {param.high} characters"
    if not (_is_int(value) if param.kind == "int" else _is_number(value)):
        return f"expected {param.kind}, got {value!r}"
    if not param.low <= value <= param.high:  # type: ignore[operator]
        return f"{value!r} is not in {param.low}-{param.high}"
    return None


def _param_errors(
    values: dict[str, Any],
    params: tuple[Param, ...],
    distinct: tuple[tuple[str, str], ...],
    path: str,
) -> list[str]:
    """The problems of params' values in values (a missing one takes its default)."""
    errors = []
    for param in params:
        if (reason := param_error(param, values.get(param.key, param.default))) is not None:
            errors.append(f"{path}.{param.key}: {reason}")
    given = {param.key: values.get(param.key, param.default) for param in params}
    for first, second in distinct:
        if not errors and given[first] == given[second]:
            errors.append(f"{path}.{second}: must differ from {first}")
    return errors


def _filter_errors(filters: object, kind: PeripheralType, path: str) -> list[str]:
    """The problems of a peripheral's `filters` (docs/protocol.md, "Filters")."""
    if not isinstance(filters, dict):
        return [f"{path}: expected an object"]
    errors = []
    known = {param.key for param in FILTER_PARAMS}
    for value, settings in filters.items():
        where = f"{path}.{value}"
        if value not in kind.filterable:
            names = ", ".join(kind.filterable) or "none"
            errors.append(f"{where}: not a filterable value of {kind.key} ({names})")
        elif not isinstance(settings, dict):
            errors.append(f"{where}: expected an object")
        else:
            errors += [f"{where}.{key}: unknown setting" for key in settings if key not in known]
            errors += _param_errors(settings, FILTER_PARAMS, FILTER_DISTINCT, where)
    return errors


def config_body(config: dict[str, Any], n: int) -> dict[str, Any]:
    """The `config/set` body for a stored configuration (HA-only fields such as names dropped).

    A stored peripheral without a parameter gets the catalogue's default; one of a type the
    catalogue does not know is sent as stored, for the node to refuse with its reason.
    """
    peripherals = []
    for peripheral in config.get("sensors", []):
        item: dict[str, Any] = {"id": peripheral["id"], "type": peripheral["type"]}
        item |= attachment(peripheral)
        if (kind := TYPES.get(peripheral["type"])) is not None:
            for param in kind.params:
                if param.node:
                    item[param.key] = peripheral.get(param.key, param.default)
        if peripheral.get("filters"):
            item["filters"] = peripheral["filters"]
        peripherals.append(item)
    return {
        "n": n,
        "version": config["version"],
        "name": config["name"],
        "telemetry_interval": config["telemetry_interval"],
        "log_level": config["log_level"],
        "sensors": peripherals,
    }


def attachment(peripheral: dict[str, Any]) -> dict[str, Any]:
    """How a stored peripheral attaches: its `pin`; on an I2C bus its `bus` (with the default
    frequency if it has none) and `address`; on a 1-Wire bus its `pin` and `rom`."""
    kind = TYPES.get(peripheral["type"])
    if kind is not None and kind.bus == "i2c":
        bus = peripheral.get("bus")
        if isinstance(bus, dict):
            bus = {"freq": I2C_FREQ_DEFAULT} | bus
        return {"bus": bus, "address": peripheral.get("address", kind.addresses[0])}
    found = {"pin": peripheral.get("pin")}
    if kind is not None and kind.bus == "onewire":
        found["rom"] = peripheral.get("rom")
    return found


def pins_held(peripheral: dict[str, Any]) -> list[Any]:
    """The pins a stored peripheral holds: its pin, or its I2C bus's SDA and SCL."""
    bus = peripheral.get("bus")
    if isinstance(bus, dict):
        return [bus.get("sda"), bus.get("scl")]
    return [peripheral.get("pin")] if "pin" in peripheral else []


def sensor_id_for(name: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A free sensor id made from a display name (`Living room lamp` → `living_room_lamp`)."""
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:16] or "sensor"
    candidate = base
    number = 2
    while candidate in taken:
        suffix = f"_{number}"
        candidate = base[: 16 - len(suffix)] + suffix
        number += 1
    return candidate
