"""The peripheral catalogue: what is generated from it is current, and its texts pass hassfest."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from custom_components.microhome import catalogue, protocol
from microhome_tools import FIRMWARE_DIR
from microhome_tools import catalogue as generator

STRINGS = Path(catalogue.__file__).parent / "strings.json"


def test_generated_files_are_current() -> None:
    """`microhome catalogue` was run after the catalogue last changed."""
    assert generator.stale() == [], "run `scripts/env microhome catalogue`"


def test_every_type_has_a_driver_and_texts() -> None:
    strings = json.loads(STRINGS.read_text())
    for key, kind in catalogue.TYPES.items():
        driver = FIRMWARE_DIR / "home" / "sensors" / f"{key}.py"
        # make(home, spec): a function, or the driver's class
        assert re.search(r"^(def make\(home, spec\):|make = [A-Z]\w*)$", driver.read_text(), re.M)
        assert strings["selector"]["peripheral_type"]["options"][key] == kind.name
        assert strings["selector"]["peripheral_wiring"]["options"][key] == kind.wiring
        assert kind.role in catalogue.ROLES
        for platform in catalogue.PLATFORMS:
            assert catalogue.pins(platform, kind.role), f"{key} has no pin on {platform}"
        for param in kind.params:
            assert protocol.param_error(param, param.default) is None, (key, param.key)
        assert kind.entities, f"{key} shows no entity"
        assert bool(kind.addresses) == (kind.bus == "i2c"), key
        for entity in kind.entities:
            if entity.platform == "sensor":  # history graphs and long-term statistics
                assert entity.unit or entity.unit_param, (key, entity)
                assert entity.device_class or entity.device_class_param, (key, entity)
                assert entity.state_class, (key, entity)
    for param in catalogue.FILTER_PARAMS:
        assert protocol.param_error(param, param.default) is None, param.key


def _texts(node: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, dict):
        return [item for key, value in node.items() for item in _texts(value, f"{path}.{key}")]
    return [(path, node)]


def test_strings_pass_hassfest_rules() -> None:
    """Selector option keys are lower-case [a-z0-9-_]; no text looks like an HTML tag."""
    strings = json.loads(STRINGS.read_text())
    for name, selector in strings["selector"].items():
        for key in selector["options"]:
            assert re.fullmatch(r"[a-z0-9_-]+", key), f"selector {name}: option key {key!r}"
    for path, text in _texts(strings):
        assert re.search(r"<[^>]*>", text) is None, f"{path}: {text!r}"


def test_firmware_log_levels_are_the_protocols() -> None:
    source = (FIRMWARE_DIR / "home" / "log.py").read_text()
    assert f'\nLEVELS = "{"".join(protocol.LOG_LEVELS)}"\n' in source


def test_vectors_hold_every_type(vectors: dict[str, Any]) -> None:
    """Valid and invalid configurations of every type, which both sides load."""
    for kind_of_case in ("valid", "invalid"):
        cases = vectors["configs"][kind_of_case]
        for key in catalogue.TYPES:
            for platform in ("rp2", "esp32"):
                assert any(
                    case["platform"] == platform and _has_type(case["config"], key)
                    for case in cases
                ), f"no {kind_of_case} {key} on {platform}"


def _has_type(config: dict[str, Any], key: str) -> bool:
    return any(isinstance(p, dict) and p.get("type") == key for p in config["sensors"])
