"""The firmware's signing and config checks, run on the real micropython over the shared vectors."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from microhome_tools import FIRMWARE_DIR
from microhome_tools.sim import install_firmware
from tests.firmware.harness import MICROPYTHON

SCRIPT = Path(__file__).with_name("mp_vectors.py")
USED = ("keys", "signed", "rejected", "sensor_ids", "node_ids")
# The vectors (test data a node never holds) take tens of KB beside the firmware.
VECTORS_HEAPSIZE = "192K"


@pytest.mark.parametrize("platform", ["rp2", "esp32"])
def test_firmware_verifies_and_validates_every_vector(
    platform: str, vectors: dict[str, Any], tmp_path: Path
) -> None:
    # The firmware compiled, as a board runs it, in a heap with room for every vector at once
    # (some 40 KB of test data a node never holds) beside it.
    flash = tmp_path / "flash"
    install_firmware(flash)
    env = {
        **os.environ,
        "MICROPYPATH": f".frozen:{flash / 'a'}:{FIRMWARE_DIR / 'sim'}",
        "MICROHOME_PLATFORM": platform,
        "MICROHOME_STATE": str(tmp_path),
    }
    # What the firmware checks, and of the configurations only this platform's: the whole
    # file does not fit the node's heap beside the firmware's config checks.
    subset = {name: vectors[name] for name in USED} | {
        "configs": {
            kind: [case for case in cases if case["platform"] == platform]
            for kind, cases in vectors["configs"].items()
        }
    }
    subset_path = tmp_path / "vectors.json"
    subset_path.write_text(json.dumps(subset))
    result = subprocess.run(
        [MICROPYTHON, "-X", f"heapsize={VECTORS_HEAPSIZE}", str(SCRIPT), str(subset_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["platform"] == platform
    assert report["failures"] == []
    platform_configs = sum(
        case["platform"] == platform
        for kind in ("valid", "invalid")
        for case in vectors["configs"][kind]
    )
    expected = (
        2
        + 2 * len(vectors["signed"])
        + len(vectors["rejected"])
        + platform_configs
        + sum(len(ids) for ids in (*vectors["sensor_ids"].values(), *vectors["node_ids"].values()))
    )
    assert report["checks"] == expected
