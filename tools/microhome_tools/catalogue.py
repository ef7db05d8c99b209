"""`microhome catalogue`: write what is generated from the peripheral catalogue.

custom_components/microhome/catalogue.py is the source. From it come the firmware's compact
table (micropython/home/catalogue.py) and the English texts of the types, parameters and
entities in strings.json and translations/en.json. `--check` only says what is stale.
"""

import argparse
import json
from pathlib import Path
from typing import Any

from microhome_tools import FIRMWARE_DIR
from microhome_tools.common import INTEGRATION_DIR, integration_module

FIRMWARE_TABLE = Path("home") / "catalogue.py"
STRINGS_FILES = (INTEGRATION_DIR / "strings.json", INTEGRATION_DIR / "translations" / "en.json")
# Parameter and field kinds in the firmware table: int, bool, number (int or float).
_KINDS = {"int": "i", "bool": "b", "number": "n"}


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


def firmware_table() -> str:
    """The text of micropython/home/catalogue.py."""
    catalogue = integration_module("catalogue")
    lines = [
        "# Generated from custom_components/microhome/catalogue.py by `microhome catalogue`;",
        "# do not edit. Kinds: i int, b bool, n number.",
        f"NAMES = {_py(tuple(catalogue.TYPES))}",
        "# type -> (pin role, ((param, kind, default, low, high), ...),",
        "#          ((set field, kind, low, high), ...), at most one per node)",
        "TYPES = {",
    ]
    for kind in catalogue.TYPES.values():
        params = tuple((p.key, _KINDS[p.kind], p.default, p.low, p.high) for p in kind.params)
        fields = tuple((f.key, _KINDS[f.kind], f.low, f.high) for f in kind.set_fields)
        entry = (kind.role, params, fields, int(kind.single))
        lines.append(f"    {_py(kind.key)}: {_py(entry)},")
    lines += [
        "}",
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


def write_firmware_table(src: Path = FIRMWARE_DIR) -> bool:
    """Write the firmware table under src; True if it changed."""
    target = src / FIRMWARE_TABLE
    text = firmware_table()
    if target.exists() and target.read_text() == text:
        return False
    target.write_text(text)
    return True


def _range_text(param: Any) -> str:
    unit = f" {param.unit}" if param.unit else ""
    return f"A whole number from {param.low} to {param.high}{unit}."


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
        for param in kind.params:
            step["data"][param.key] = param.name
            step["data_description"][param.key] = param.description
            if param.kind == "int":
                errors[f"{param.key}_range"] = _range_text(param)
        if kind.single:
            errors[f"{kind.key}_exists"] = f"This node already has a {kind.name}."
        for entity in kind.entities:
            if entity.key is not None:
                texts = data["entity"].setdefault(entity.platform, {})
                texts[entity.key] = {"name": entity.name}
    return data


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def stale() -> list[Path]:
    """The generated files that do not match the catalogue."""
    found = []
    table = FIRMWARE_DIR / FIRMWARE_TABLE
    if not table.exists() or table.read_text() != firmware_table():
        found.append(table)
    for path in STRINGS_FILES:
        text = path.read_text()
        if _dump(strings(json.loads(text))) != text:
            found.append(path)
    return found


def write() -> list[Path]:
    """Regenerate every generated file; the ones that changed."""
    changed = []
    if write_firmware_table():
        changed.append(FIRMWARE_DIR / FIRMWARE_TABLE)
    for path in STRINGS_FILES:
        text = path.read_text()
        new = _dump(strings(json.loads(text)))
        if new != text:
            path.write_text(new)
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
