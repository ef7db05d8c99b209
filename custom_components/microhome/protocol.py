"""The MicroHome MQTT protocol (docs/protocol.md): topics, signing, keys, parsing, validation.

Plain Python with no Home Assistant imports, so tools and tests can use it on their own.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

PREFIX: Final = "microhome"
DISCOVER_TOPIC: Final = f"{PREFIX}/discover"
ANNOUNCE_SUBSCRIPTION: Final = f"{PREFIX}/+/announce"
MAX_PAYLOAD_BYTES: Final = 16384

NODE_ID_RE: Final = re.compile(r"[a-z0-9_-]{1,32}")
SENSOR_ID_RE: Final = re.compile(r"[a-z0-9_]{1,16}")
SIGNATURE_RE: Final = re.compile(r"[0-9a-f]{64}")

PLATFORMS: Final = ("rp2", "esp32", "unix")
SENSOR_TYPES: Final = ("dht22", "motion", "led", "status_led")
LIGHT_TYPES: Final = ("led", "status_led")
LOG_LEVELS: Final = ("D", "I", "W", "E", "C")
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

# Configuration limits (docs/protocol.md, "Configuration limits").
NAME_MAX: Final = 32
MAX_SENSORS: Final = 16
TELEMETRY_INTERVAL: Final = (5, 86400)
DHT22_INTERVAL: Final = (2, 86400)
MOTION_OFF_DELAY: Final = (0, 3600)
LED_FREQ: Final = (100, 40000)
IDENTIFY_SECONDS: Final = (1, 300)
TRANSITION_MAX: Final = 60.0
DEFAULTS: Final[dict[str, dict[str, int]]] = {
    "dht22": {"interval": 30},
    "motion": {"off_delay": 30},
    "led": {"freq": 1000},
    "status_led": {},
}
PARAM_LIMITS: Final[dict[str, dict[str, tuple[int, int]]]] = {
    "dht22": {"interval": DHT22_INTERVAL},
    "motion": {"off_delay": MOTION_OFF_DELAY},
    "led": {"freq": LED_FREQ},
    "status_led": {},
}

type Pin = int | str


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
    except ValueError as err:
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
        size = len(payload.encode())
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
    except ValueError as err:
        raise ProtocolError(f"payload is not JSON: {err}") from err
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
        raise ProtocolError(f"{where}: expected {base}{nullable}, got {value!r}")
    return value


def _range(value: float, low: float, high: float, where: str) -> None:
    if not low <= value <= high:
        raise ProtocolError(f"{where}: {value} is not in {low}-{high}")


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
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "platform": self.platform,
            "board": self.board,
            "fw": self.fw,
            "mpy": self.mpy,
            "mac": self.mac,
            "ip": self.ip,
            "caps": list(self.caps),
            "cfg": self.cfg,
            "key_id": self.key_id,
        }
        if self.safe_mode is not None:
            body["safe_mode"] = self.safe_mode
        return body


def parse_announce(payload: str | bytes | bytearray, node_id: str | None = None) -> Announce:
    """An announce payload; node_id (from the topic) must match its `id` when given."""
    data = load_object(payload)
    ident = _get(data, "id", "str")
    if not is_node_id(ident):
        raise ProtocolError(f"id: {ident!r} is not a node id ([a-z0-9_-]{{1,32}})")
    if node_id is not None and ident != node_id:
        raise ProtocolError(f"id: {ident!r} does not match the topic's node id {node_id!r}")
    platform = _get(data, "platform", "str")
    if platform not in PLATFORMS:
        raise ProtocolError(f"platform: {platform!r} is not one of {', '.join(PLATFORMS)}")
    caps = _get(data, "caps", "list")
    if not all(isinstance(cap, str) for cap in caps):
        raise ProtocolError("caps: expected a list of strings")
    cfg = _get(data, "cfg", "int")
    if cfg < 0:
        raise ProtocolError(f"cfg: {cfg} is negative")
    return Announce(
        id=ident,
        name=_get(data, "name", "str"),
        platform=platform,
        board=_get(data, "board", "str"),
        fw=_get(data, "fw", "str"),
        mpy=_get(data, "mpy", "str"),
        mac=_get(data, "mac", "str"),
        ip=_get(data, "ip", "str"),
        caps=tuple(caps),
        cfg=cfg,
        key_id=_get(data, "key_id", "str"),
        safe_mode=_get(data, "safe_mode", "str?") if "safe_mode" in data else None,
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
    optional: dict[str, Any] = {}
    for name, kind in (("boot", "int"), ("cfg", "int"), ("ip", "str")):
        if name in data:
            optional[name] = _get(data, name, kind)
    uptime = _get(data, "uptime", "int")
    rssi = _get(data, "rssi", "number?")
    return Telemetry(
        uptime=uptime,
        rssi=None if rssi is None else round(rssi),
        mem_free=_get(data, "mem_free", "int"),
        mem_alloc=_get(data, "mem_alloc", "int"),
        reset_cause=_get(data, "reset_cause", "str"),
        **optional,
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
    boot = _get(data, "boot", "int")
    entries = []
    for index, item in enumerate(_get(data, "entries", "list")):
        path = f"entries[{index}]."
        if not isinstance(item, dict):
            raise ProtocolError(f"entries[{index}]: expected an object, got {item!r}")
        lvl = _get(item, "lvl", "str", path)
        if lvl not in LOG_LEVELS:
            raise ProtocolError(f"{path}lvl: {lvl!r} is not one of {' '.join(LOG_LEVELS)}")
        entries.append(
            LogEntry(
                seq=_get(item, "seq", "int", path),
                t=_get(item, "t", "int", path),
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
        version=_get(data, "version", "int"),
        ok=_get(data, "ok", "bool"),
        errors=tuple(errors),
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
        raise ProtocolError(f"state: {state!r} is not one of {' '.join(OTA_STATES)}")
    progress = _get(data, "progress", "int")
    _range(progress, 0, 100, "progress")
    return OtaStatus(
        state=state,
        version=_get(data, "version", "str"),
        progress=progress,
        error=_get(data, "error", "str?"),
    )


@dataclass(frozen=True, slots=True)
class Reply:
    """A node's answer to a command."""

    n: int
    ok: bool
    error: str | None


def parse_reply(payload: str | bytes | bytearray) -> Reply:
    """A `reply` payload."""
    data = load_object(payload)
    return Reply(
        n=_get(data, "n", "int"),
        ok=_get(data, "ok", "bool"),
        error=_get(data, "error", "str?") if "error" in data else None,
    )


@dataclass(frozen=True, slots=True)
class ClimateState:
    """A DHT22 reading; both values None and error set after failed retries."""

    temperature: float | None
    humidity: float | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class MotionState:
    """A motion sensor's state."""

    motion: bool


@dataclass(frozen=True, slots=True)
class LightState:
    """A light's state; brightness is None for the on/off status LED."""

    on: bool
    brightness: int | None = None


type SensorState = ClimateState | MotionState | LightState


def parse_state(sensor_type: str, payload: str | bytes | bytearray) -> SensorState:
    """A `state/<sensor_id>` payload for a sensor of sensor_type."""
    data = load_object(payload)
    if sensor_type == "dht22":
        if "error" in data:
            return ClimateState(None, None, _get(data, "error", "str"))
        temperature = _get(data, "temperature", "number")
        humidity = _get(data, "humidity", "number")
        _range(temperature, -40, 125, "temperature")
        _range(humidity, 0, 100, "humidity")
        return ClimateState(float(temperature), float(humidity))
    if sensor_type == "motion":
        return MotionState(_get(data, "motion", "bool"))
    if sensor_type == "led":
        brightness = _get(data, "brightness", "int")
        _range(brightness, 0, 255, "brightness")
        return LightState(_get(data, "on", "bool"), brightness)
    if sensor_type == "status_led":
        return LightState(_get(data, "on", "bool"))
    raise ProtocolError(f"unknown sensor type {sensor_type!r}")


# --- configuration ----------------------------------------------------------------------------


def valid_pins(platform: str, sensor_type: str) -> list[Pin]:
    """Every pin a sensor of sensor_type may use on platform, in order."""
    if platform == "rp2":
        pins: list[Pin] = [*range(23), 26, 27, 28, "LED"]
        return pins
    pins = [p for p in range(40) if p not in (6, 7, 8, 9, 10, 11, 20, 24, 28, 29, 30, 31)]
    if sensor_type != "motion":
        pins = [p for p in pins if not 34 <= p <= 39]  # type: ignore[operator]
    if platform == "unix":
        pins.append("LED")
    return pins


def pin_error(platform: str, sensor_type: str, pin: object) -> str | None:
    """Why pin cannot be used for sensor_type on platform, or None if it can."""
    if not (_is_int(pin) or pin == "LED"):
        return f'{pin!r} is not a GPIO number or "LED"'
    if pin in valid_pins(platform, sensor_type):
        return None
    if platform != "rp2" and _is_int(pin) and 34 <= pin <= 39:  # type: ignore[operator]
        return f"{pin} is input-only, a {sensor_type} needs an output"
    return f"{pin} is not a usable pin on {platform}"


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
        errors.append(f"log_level: {config.get('log_level')!r} is not one of D I W E C")
    sensors = config.get("sensors")
    if not isinstance(sensors, list):
        errors.append("sensors: expected a list")
        return errors
    if len(sensors) > MAX_SENSORS:
        errors.append(f"sensors: more than {MAX_SENSORS}")
    ids: set[str] = set()
    pins: set[object] = set()
    status_leds = 0
    for index, sensor in enumerate(sensors):
        errors.extend(_sensor_errors(sensor, index, platform, ids, pins))
        if isinstance(sensor, dict) and sensor.get("type") == "status_led":
            status_leds += 1
            if status_leds == 2:
                errors.append(f"sensors[{index}].type: only one status_led")
    return errors


def _sensor_errors(
    sensor: object, index: int, platform: str, ids: set[str], pins: set[object]
) -> list[str]:
    path = f"sensors[{index}]"
    if not isinstance(sensor, dict):
        return [f"{path}: expected an object"]
    errors = []
    ident = sensor.get("id")
    if not isinstance(ident, str) or not is_sensor_id(ident):
        errors.append(f"{path}.id: {ident!r} is not a sensor id ([a-z0-9_]{{1,16}})")
    elif ident in ids:
        errors.append(f"{path}.id: {ident} used twice")
    else:
        ids.add(ident)
    sensor_type = sensor.get("type")
    if sensor_type not in SENSOR_TYPES:
        errors.append(f"{path}.type: {sensor_type!r} is not one of {', '.join(SENSOR_TYPES)}")
        return errors
    pin = sensor.get("pin")
    reason = pin_error(platform, sensor_type, pin)
    if reason is not None:
        errors.append(f"{path}.pin: {reason}")
    elif pin in pins:
        errors.append(f"{path}.pin: {pin} used twice")
    else:
        pins.add(pin)
    for name, (low, high) in PARAM_LIMITS[sensor_type].items():
        value = sensor.get(name, DEFAULTS[sensor_type][name])
        if not _is_int(value):
            errors.append(f"{path}.{name}: expected int, got {value!r}")
        elif not low <= value <= high:
            errors.append(f"{path}.{name}: {value} is not in {low}-{high}")
    return errors


def config_body(config: dict[str, Any], n: int) -> dict[str, Any]:
    """The `config/set` body for a stored configuration (HA-only fields such as names dropped)."""
    sensors = []
    for sensor in config.get("sensors", []):
        item: dict[str, Any] = {"id": sensor["id"], "type": sensor["type"], "pin": sensor["pin"]}
        for name in PARAM_LIMITS[sensor["type"]]:
            item[name] = sensor.get(name, DEFAULTS[sensor["type"]][name])
        sensors.append(item)
    return {
        "n": n,
        "version": config["version"],
        "name": config["name"],
        "telemetry_interval": config["telemetry_interval"],
        "log_level": config["log_level"],
        "sensors": sensors,
    }


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
