"""`microhome catalogue`: write what is generated from the peripheral catalogue.

custom_components/microhome/catalogue.py is the source. From it come the firmware's compact
table (micropython/home/catalogue.py), the English texts of the types, parameters and
entities in strings.json and translations/en.json, docs/protocol.md's table of configuration
limits, README's table of peripherals, and valid and invalid configurations of every type in
tests/vectors/protocol.json. `--check` only says what is stale.
"""

import argparse
import json
from pathlib import Path
from typing import Any

from microhome_tools import FIRMWARE_DIR, REPO
from microhome_tools.common import INTEGRATION_DIR, integration_module

FIRMWARE_TABLE = Path("home") / "catalogue.py"
FIELDS_TABLE = Path("home") / "fields_table.py"
BUS_TABLE = Path("home") / "catalogue_bus.py"
# The filters' table: imported by the node only to check a configuration that has filters.
FILTER_TABLE = Path("home") / "filter_table.py"
# Parameters: imported by the node only while it checks a configuration (home/check.py).
CONFIG_TABLE = Path("home") / "config_table.py"
# Pins, and the types on a bus: imported only while a configuration's pins and buses are
# checked (home/pincheck.py) or a bus is scanned.
PIN_TABLE = Path("home") / "pin_table.py"
STRINGS_FILES = (INTEGRATION_DIR / "strings.json", INTEGRATION_DIR / "translations" / "en.json")
PROTOCOL_DOC = REPO / "docs" / "protocol.md"
README = REPO / "README.md"
VECTORS = REPO / "tests" / "vectors" / "protocol.json"
_GENERATED = "catalogue: "  # how the `why` of a generated configuration vector starts
# Parameter and field kinds in the firmware table: int, bool, number (int or float), choice
# (low: the choices) and str.
_KINDS = {"int": "i", "bool": "b", "number": "n", "choice": "c", "str": "s"}


LED_PIN = 255  # "LED" in the firmware's pin lists


def _pin_bytes(pins: tuple[int | str, ...]) -> bytes:
    """A role's pins as bytes: GPIO numbers, and 255 for "LED"."""
    return bytes(LED_PIN if pin == "LED" else int(pin) for pin in pins)


def _py(value: Any) -> str:
    """value as MicroPython source: strings in double quotes, bytes in hex escapes."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bytes):
        return 'b"' + "".join(f"\\x{byte:02x}" for byte in value) + '"'
    if isinstance(value, tuple):
        items = ", ".join(_py(item) for item in value)
        return f"({items},)" if len(value) == 1 else f"({items})"
    return repr(value)


def _param_table(params: tuple[Any, ...]) -> tuple[Any, ...]:
    """The parameters the node takes as (key, kind, default, low, high) rows."""
    return tuple(
        (p.key, _KINDS[p.kind], p.default, p.choices if p.kind == "choice" else p.low, p.high)
        for p in params
        if p.node
    )


def firmware_table() -> str:
    """The text of micropython/home/catalogue.py: the type names a running node keeps, and the
    types' pin roles, loaded while a configuration is checked."""
    catalogue = integration_module("catalogue")
    lines = [
        "# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;",
        "# do not edit. A running node keeps NAMES (home/node.py); TYPES is loaded while a",
        "# configuration is checked, with home/config_table.py.",
        f"NAMES = {_py(tuple(catalogue.TYPES))}",
        "# type -> (pin role, at most one per node)",
        "TYPES = {",
    ]
    for kind in catalogue.TYPES.values():
        lines.append(f"    {_py(kind.key)}: {_py((kind.role, int(kind.single)))},")
    lines += ["}", ""]
    return "\n".join(lines)


def fields_table() -> str:
    """The text of micropython/home/fields_table.py: the `set` fields of the types that take
    `set`, loaded while a configuration is run (a driver's class keeps its own)."""
    catalogue = integration_module("catalogue")
    lines = [
        "# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;",
        "# do not edit. Loaded by home/launch.py while a configuration is run: each driver's",
        "# class keeps its type's fields. Kinds: i int, b bool, n number.",
        "# type -> ((set field, kind, low, high), ...), for the types that take `set`",
        "FIELDS = {",
    ]
    for kind in catalogue.TYPES.values():
        fields = tuple((f.key, _KINDS[f.kind], f.low, f.high) for f in kind.set_fields)
        if fields:
            lines.append(f"    {_py(kind.key)}: {_py(fields)},")
    lines += ["}", ""]
    return "\n".join(lines)


def config_table() -> str:
    """The text of micropython/home/config_table.py: imported while a configuration is
    checked, then dropped."""
    catalogue = integration_module("catalogue")
    lines = [
        "# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;",
        "# do not edit. Imported with home/check.py while a configuration is checked, then",
        "# dropped. Kinds: i int, b bool (T, F), n number, c choice (low: the choices, /).",
        "# type -> (params as `param kind default low high` rows joined by `;`, pairs of",
        "#          params that must differ as `param param` rows): strings, not tuples of",
        "#          names, so that dropping the table leaves no interned names behind",
        "PARAMS = dict(",
    ]
    for kind in catalogue.TYPES.values():
        rows = ";".join(" ".join(_cell(cell) for cell in row) for row in _param_table(kind.params))
        pairs = ";".join(" ".join(pair) for pair in kind.distinct)
        lines.append(f"    {kind.key}={_py((rows, pairs))},")
    lines += [")", ""]
    return "\n".join(lines)


def pin_table() -> str:
    """The text of micropython/home/pin_table.py: imported while a configuration's pins and
    buses are checked or a bus is scanned, then dropped."""
    catalogue = integration_module("catalogue")
    on_bus = ", ".join(
        f"{_py(key)}: {_py(kind.role)}" for key, kind in catalogue.TYPES.items() if kind.bus
    )
    lines = [
        "# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;",
        "# do not edit. Imported with home/pincheck.py while a configuration's pins and buses",
        "# are checked or a bus is scanned, then dropped.",
        f"# the types on a bus -> their pin role (their table: {BUS_TABLE.name})",
        f"ON_BUS = {{{on_bus}}}",
        "# platform -> role -> its pins, one byte each, 255 for LED; a role's pins that are",
        "# the same as another's are the same object",
        "PINS = {",
    ]
    names: dict[bytes, str] = {}
    for platform, roles in catalogue.PINS.items():
        entries = []
        for role, pins in roles.items():
            data = _pin_bytes(pins)
            if data not in names:
                names[data] = f"_{platform.upper()}_{role.upper()}"
            entries.append(f"{_py(role)}: {names[data]}")
        lines.append(f"    {_py(platform)}: {{{', '.join(entries)}}},")
    lines.insert(
        lines.index("PINS = {"),
        "\n".join(f"{name} = {_py(data)}" for data, name in names.items()),
    )
    lines += ["}", ""]
    return "\n".join(lines)


def bus_table() -> str:
    """The text of micropython/home/catalogue_bus.py: the table of the types on buses, which
    only the checks of a configuration with such devices import."""
    catalogue = integration_module("catalogue")
    rp2_i2c = tuple(bytes(pins) for controller in catalogue.RP2_I2C for pins in controller)
    limits = (*catalogue.I2C_FREQ, catalogue.I2C_FREQ_DEFAULT, catalogue.I2C_BUSES_MAX)
    lines = [
        "# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;",
        "# do not edit.",
        '# type on an I2C bus -> its addresses (a 1-Wire type: b"")',
        "ADDRESSES = {",
        *(
            f"    {_py(key)}: {_py(bytes(kind.addresses))},"
            for key, kind in catalogue.TYPES.items()
            if kind.bus
        ),
        "}",
        "# I2C: lowest, highest and default frequency, buses at most",
        f"I2C = {_py(limits)}",
        "# rp2: SDA pins of I2C0, its SCL pins, SDA pins of I2C1, its SCL pins",
        f"RP2_I2C = {_py(rp2_i2c)}",
        "",
    ]
    return "\n".join(lines)


def filter_table() -> str:
    """The text of micropython/home/filter_table.py."""
    catalogue = integration_module("catalogue")
    filterable = {key: kind.filterable for key, kind in catalogue.TYPES.items() if kind.filterable}
    return "\n".join(
        [
            "# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;",
            "# do not edit. Imported only to check a configuration with filters.",
            "# type -> the values filters may apply to",
            f"FILTERABLE = {{{', '.join(f'{_py(k)}: {_py(v)}' for k, v in filterable.items())}}}",
            "# a value's filter settings (protocol.md, Filters): (key, kind, default, low, high)",
            f"FILTER = {_py(_param_table(catalogue.FILTER_PARAMS))}",
            f"FILTER_DISTINCT = {_py(catalogue.FILTER_DISTINCT)}",
            "",
        ]
    )


def _cell(value: Any) -> str:
    """One cell of a parameter row in home/config_table.py."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, tuple):
        return "/".join(value)
    return str(value)


def _firmware_tables() -> dict[Path, str]:
    return {
        FIRMWARE_TABLE: firmware_table(),
        FIELDS_TABLE: fields_table(),
        CONFIG_TABLE: config_table(),
        PIN_TABLE: pin_table(),
        FILTER_TABLE: filter_table(),
        BUS_TABLE: bus_table(),
    }


def write_firmware_table(src: Path = FIRMWARE_DIR) -> bool:
    """Write the firmware's generated tables under src; True if one changed."""
    changed = False
    for path, text in _firmware_tables().items():
        target = src / path
        if not (target.exists() and target.read_text() == text):
            target.write_text(text)
            changed = True
    return changed


def _range_text(param: Any) -> str:
    unit = f" {param.unit}" if param.unit else ""
    number = "A whole number" if param.kind == "int" else "A number"
    return f"{number} from {param.low} to {param.high}{unit}."


def _param_texts(
    params: tuple[Any, ...], step: dict[str, Any], errors: dict[str, str], selector: dict[str, Any]
) -> None:
    """The form texts of params: field names and descriptions, errors, choices."""
    for param in params:
        step["data"][param.key] = param.name
        step["data_description"][param.key] = param.description
        if param.kind in ("int", "number"):
            errors[f"{param.key}_range"] = _range_text(param)
        if param.kind == "str":
            errors[f"{param.key}_range"] = f"At most {param.high} characters."
        if param.kind == "choice":
            options = selector.setdefault(f"param_{param.key}", {"options": {}})["options"]
            options |= {c: c.replace("_", " ").capitalize() for c in param.choices}


def strings(current: dict[str, Any]) -> dict[str, Any]:
    """current (strings.json) with the catalogue's texts put in."""
    catalogue = integration_module("catalogue")
    data = json.loads(json.dumps(current))
    selector = data.setdefault("selector", {})
    selector["peripheral_type"] = {
        "options": {key: kind.name for key, kind in catalogue.TYPES.items()}
    }
    selector["peripheral_wiring"] = {
        "options": {key: kind.wiring for key, kind in catalogue.TYPES.items()}
    }
    selector["platform"] = {"options": dict(catalogue.PLATFORM_NAMES)}
    step = data["options"]["step"]["peripheral"]
    errors = data["options"]["error"]
    for kind in catalogue.TYPES.values():
        _param_texts(kind.params, step, errors, selector)
        if kind.single:
            errors[f"{kind.key}_exists"] = f"This node already has a {kind.name}."
        for entity in kind.entities:
            if entity.key is not None:
                texts = data["entity"].setdefault(entity.platform, {})
                texts[entity.key] = {"name": entity.name}
    filters = data["options"]["step"]["filters"]
    _param_texts(catalogue.FILTER_PARAMS, filters, errors, selector)
    return data


def _param_rule(param: Any) -> str:
    if param.kind == "choice":
        choices = ", ".join(f"`{choice}`" for choice in param.choices)
        return f"one of {choices} (default `{param.default}`)"
    if param.kind == "bool":
        return f"`true` or `false` (default `{str(param.default).lower()}`)"
    if param.kind == "choice":
        choices = ", ".join(f"`{choice}`" for choice in param.choices)
        return f"one of {choices} (default `{param.default}`)"
    unit = f" {param.unit}" if param.unit else ""
    number = "integer" if param.kind == "int" else "number"
    return f"{number}{unit}, {param.low}-{param.high} (default {param.default})"


def limits_table() -> str:
    """docs/protocol.md's table of configuration limits."""
    catalogue = integration_module("catalogue")
    protocol = integration_module("protocol")
    low, high = catalogue.TELEMETRY_INTERVAL
    types = ", ".join(f"`{key}`" for key in catalogue.TYPES)
    singles = " and ".join(f"one `{k}`" for k, kind in catalogue.TYPES.items() if kind.single)
    rows = [
        "| field | rule |",
        "|---|---|",
        "| `n`, `version` | integers, `version` >= 0 |",
        f"| `name` | string, 0-{catalogue.NAME_MAX} characters |",
        f"| `telemetry_interval` | integer seconds, {low}-{high} |",
        f"| `log_level` | one of `{' '.join(protocol.LOG_LEVELS)}`: lines below it are not sent"
        " on `log` |",
        f"| `sensors` | list of at most {catalogue.MAX_PERIPHERALS} objects |",
        "| sensor `id` | `[a-z0-9_]{1,16}`, unique within the node |",
        f"| sensor `type` | {types}; at most {singles} |",
        "| `pin` | valid on the platform for the type's pin role (below); no pin twice |",
        '| I2C `bus` | `{"sda": pin, "scl": pin, "freq": Hz}`: pins valid for the pin role;'
        " rp2: SDA and SCL of one controller (I2C0 SDA"
        f" {'/'.join(map(str, catalogue.RP2_I2C[0][0]))}, SCL"
        f" {'/'.join(map(str, catalogue.RP2_I2C[0][1]))}; I2C1 SDA"
        f" {'/'.join(map(str, catalogue.RP2_I2C[1][0]))}, SCL"
        f" {'/'.join(map(str, catalogue.RP2_I2C[1][1]))}), one bus per controller;"
        f" esp32: SDA and SCL differ; at most {catalogue.I2C_BUSES_MAX} buses; `freq`"
        f" {catalogue.I2C_FREQ[0]}-{catalogue.I2C_FREQ[1]} (default"
        f" {catalogue.I2C_FREQ_DEFAULT}), the same for every device of a bus; its pins are"
        " taken by the bus |",
        "| I2C `address` | one of the type's addresses (below, the first the default), each once"
        " per bus |",
        "| 1-Wire `pin`, `rom` | the probes of a bus share its pin (taken by the bus); `rom` 16"
        " lower-case hex digits, each once per pin |",
    ]
    for kind in catalogue.TYPES.values():
        rows += [f"| `{kind.key}.{p.key}` | {_param_rule(p)} |" for p in kind.params if p.node]
        rows += [f"| `{kind.key}`: `{a}` != `{b}` | two points |" for a, b in kind.distinct]
    rows.append(
        "| `filters` | object: a filterable value (below) -> its settings, each optional: "
        + ", ".join(f"`{p.key}` {_param_rule(p)}" for p in catalogue.FILTER_PARAMS)
        + "; `raw1` != `raw2` |"
    )
    roles = {
        "in": "input with interrupts",
        "io": "bidirectional data",
        "out": "digital output",
        "pwm": "PWM output",
        "adc": "analog input",
    }
    rows += ["", "| type | pin role | `set` fields | filterable values |", "|---|---|---|---|"]
    for kind in catalogue.TYPES.values():
        fields = ", ".join(f"`{f.key}`" for f in kind.set_fields) or "-"
        values = ", ".join(f"`{key}`" for key in kind.filterable) or "-"
        role = f"{kind.role} ({roles[kind.role]})"
        if kind.bus == "i2c":
            addresses = ", ".join(f"0x{address:02x}" for address in kind.addresses)
            role = f"I2C bus, `address` {addresses}"
        elif kind.bus == "onewire":
            role = f"1-Wire bus on a pin of role {kind.role}"
        rows.append(f"| `{kind.key}` | {role} | {fields} | {values} |")
    return "\n".join(rows)


def peripherals_table() -> str:
    """README's table of the peripherals a node can run."""
    catalogue = integration_module("catalogue")
    rows = [
        "| peripheral | type | in Home Assistant | settings | wiring |",
        "|---|---|---|---|---|",
    ]
    for kind in catalogue.TYPES.values():
        entities = ", ".join(sorted({e.platform.replace("_", " ") for e in kind.entities}))
        settings = ", ".join(p.name for p in kind.params) or "-"
        rows.append(f"| {kind.name} | `{kind.key}` | {entities} | {settings} | {kind.wiring} |")
    return "\n".join(rows)


def _with_block(text: str, name: str, content: str) -> str:
    """text with the lines between `<!-- catalogue:name -->` and its end marker replaced."""
    start, end = f"<!-- catalogue:{name} -->\n", f"<!-- /catalogue:{name} -->"
    head, found, rest = text.partition(start)
    if not found or end not in rest:
        raise SystemExit(f"no {start.strip()} ... {end} block")
    return head + start + content + "\n" + end + rest.partition(end)[2]


def docs() -> dict[Path, str]:
    """The docs with their generated blocks, by path."""
    return {
        PROTOCOL_DOC: _with_block(PROTOCOL_DOC.read_text(), "limits", limits_table()),
        README: _with_block(README.read_text(), "peripherals", peripherals_table()),
    }


def _config(*peripherals: dict[str, Any]) -> dict[str, Any]:
    return {
        "n": 1,
        "version": 1,
        "name": "Node",
        "telemetry_interval": 60,
        "log_level": "I",
        "sensors": list(peripherals),
    }


# The bus of the valid I2C vectors per platform, and one of another controller (rp2) or pins.
_I2C_VECTOR_BUS = {
    "rp2": ({"sda": 4, "scl": 5, "freq": 100000}, {"sda": 2, "scl": 3}),
    "esp32": ({"sda": 21, "scl": 22}, {"sda": 25, "scl": 26}),
}
_ROMS = ("28ff641e8216015e", "2801020304050671")


def _attachment(kind: Any, platform: str) -> dict[str, Any]:
    """How the valid vector of a type attaches on platform."""
    catalogue = integration_module("catalogue")
    if kind.bus == "i2c":
        attached: dict[str, Any] = {"bus": _I2C_VECTOR_BUS[platform][0]}
        return attached | ({"address": kind.addresses[-1]} if platform == "rp2" else {})
    pin = [pin for pin in catalogue.pins(platform, kind.role) if isinstance(pin, int)][-1]
    return {"pin": pin} | ({"rom": _ROMS[0]} if kind.bus == "onewire" else {})


def _bus_cases(kind: Any, platform: str, good: dict[str, Any]) -> list[Any]:
    """The invalid attachments of a type on a bus: its own, and (for the first type of each
    bus) the bus-wide rules."""
    catalogue = integration_module("catalogue")
    first = next(t for t in catalogue.TYPES.values() if t.bus == kind.bus) is kind
    second = good | {"id": "q"}
    if kind.bus == "onewire":
        cases = [(f"{kind.key} rom not hex", good | {"rom": "28FF641E8216015"})]
        if first:
            other = {"id": "q", "type": "relay", "pin": good["pin"]}
            cases += [
                (f"{kind.key} rom twice on one pin", [good, second]),
                (f"{kind.key} pin taken by a relay", [good, other]),
            ]
        return cases
    bus, other_bus = _I2C_VECTOR_BUS[platform]
    address = good.get("address", kind.addresses[0])
    moved = second | {"address": next((a for a in kind.addresses if a != address), address)}
    cases = [(f"{kind.key} address not the chip's", good | {"address": 0x10})]
    if platform == "rp2":
        cases.append((f"{kind.key} SCL of the other controller", good | {"bus": bus | {"scl": 3}}))
    else:
        cases.append((f"{kind.key} SDA input-only", good | {"bus": bus | {"sda": 34}}))
    if first:
        third = {"sda": 32, "scl": 33} if platform == "esp32" else {"sda": 6, "scl": 7}
        cases += [
            (f"{kind.key} address twice on a bus", [good, second]),
            (f"{kind.key} bus frequency differs", [good, moved | {"bus": bus | {"freq": 400000}}]),
            (
                f"{kind.key} bus pin taken by a relay",
                [good, {"id": "r", "type": "relay", "pin": bus["scl"]}],
            ),
            (
                f"{kind.key} on a third bus",
                [good, moved | {"bus": other_bus}, good | {"id": "r", "bus": third}],
            ),
        ]
    return cases


def _type_cases(kind: Any, platform: str) -> tuple[list[Any], list[Any]]:
    """Valid and invalid configurations of one type on one platform: few, as the firmware
    tests load them all in a small heap."""
    catalogue = integration_module("catalogue")
    allowed = catalogue.pins(platform, kind.role)
    good = {"id": "p", "type": kind.key} | _attachment(kind, platform)
    good |= {param.key: param.default for param in kind.params if param.node}
    if platform != "rp2":  # the parameters left out, for their defaults
        good = {key: good[key] for key in ("id", "type", "pin", "bus", "rom") if key in good}
    invalid = []
    bad: dict[str, Any] = {}  # every parameter wrong at once: one case, one error each
    for param in kind.params:
        if not param.node:
            continue
        if param.kind == "bool":
            bad[param.key] = 1
        elif param.kind == "choice":
            bad[param.key] = "x"
        elif platform == "rp2":
            bad[param.key] = param.low - 1
        else:
            bad[param.key] = param.high + 1
    if bad:
        invalid.append((f"{kind.key} with every parameter wrong", good | bad))
    for first, second in kind.distinct:
        same = good | {first: 1, second: 1}
        invalid.append((f"{kind.key}.{second} the same as {first}", same))
    if kind.filterable:
        value = kind.filterable[0]
        filters = {value: {"window": 5, "average": "mean", "delta": 0.5, "heartbeat": 300}}
        good = good | {"filters": filters} if platform == "rp2" else good
        if platform == "rp2":
            wrong = {value: {"window": 17, "average": "mode", "delta": -1, "heartbeat": 0.5}}
            invalid.append((f"{kind.key} with bad filter settings", good | {"filters": wrong}))
        else:
            same = {value: {"raw1": 2, "raw2": 2}}
            invalid.append((f"{kind.key} with one calibration point", good | {"filters": same}))
        invalid.append((f"{kind.key} filtering no value", good | {"filters": {"on": {}}}))
    inputs = set(catalogue.pins(platform, "in")) - set(allowed)
    if kind.role == "adc":
        invalid.append((f"{kind.key} on a pin without ADC", good | {"pin": 4}))
    elif kind.bus:
        invalid += _bus_cases(kind, platform, good)
    elif inputs:
        invalid.append((f"{kind.key} on an input-only pin", good | {"pin": min(inputs)}))
    elif kind.single:
        invalid.append((f"two {kind.key}", [good, good | {"id": "q", "pin": allowed[0]}]))
    else:
        invalid.append((f"{kind.key} on a pin the board does not have", good | {"pin": 40}))
    valid = [(f"one {kind.key}", _config(good))]
    if kind.bus == "onewire":
        second = good | {"id": "q", "rom": _ROMS[1]}
        valid.append((f"two {kind.key} on one pin", _config(good, second)))
    return valid, [
        (why, _config(*(case if isinstance(case, list) else [case]))) for why, case in invalid
    ]


def vectors(current: dict[str, Any]) -> dict[str, Any]:
    """current (tests/vectors/protocol.json) with the catalogue's configuration vectors."""
    catalogue = integration_module("catalogue")
    protocol = integration_module("protocol")
    data = json.loads(json.dumps(current))
    configs = data["configs"]
    for kind_of_case in ("valid", "invalid"):
        configs[kind_of_case] = [
            case for case in configs[kind_of_case] if not case.get("why", "").startswith(_GENERATED)
        ]
    for kind in catalogue.TYPES.values():
        for platform in ("rp2", "esp32"):
            valid, invalid = _type_cases(kind, platform)
            for why, config in valid:
                configs["valid"].append(
                    {"platform": platform, "why": _GENERATED + why, "config": config}
                )
            for why, config in invalid:
                configs["invalid"].append(
                    {
                        "platform": platform,
                        "why": _GENERATED + why,
                        "config": config,
                        "errors": protocol.validate_config(config, platform),
                    }
                )
    return data


def _vectors_text() -> str:
    return json.dumps(vectors(json.loads(VECTORS.read_text())), indent=1)


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def stale() -> list[Path]:
    """The generated files that do not match the catalogue."""
    found = []
    for path, text in _firmware_tables().items():
        table = FIRMWARE_DIR / path
        if not table.exists() or table.read_text() != text:
            found.append(table)
    for path in STRINGS_FILES:
        text = path.read_text()
        if _dump(strings(json.loads(text))) != text:
            found.append(path)
    found += [path for path, text in docs().items() if path.read_text() != text]
    if VECTORS.read_text() != _vectors_text():
        found.append(VECTORS)
    return found


def write() -> list[Path]:
    """Regenerate every generated file; the ones that changed."""
    changed = []
    if write_firmware_table():
        changed += [FIRMWARE_DIR / path for path in _firmware_tables()]
    for path in STRINGS_FILES:
        text = path.read_text()
        new = _dump(strings(json.loads(text)))
        if new != text:
            path.write_text(new)
            changed.append(path)
    for path, text in {**docs(), VECTORS: _vectors_text()}.items():
        if path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check", action="store_true", help="only list the generated files that are stale"
    )


def run(args: argparse.Namespace) -> int:
    if args.check:
        paths = stale()
        for path in paths:
            print(f"stale: {path}")
        return 1 if paths else 0
    for path in write():
        print(f"wrote {path}")
    return 0
