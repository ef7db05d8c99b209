"""Host tools for MicroHome: the `microhome` command."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = REPO / "micropython"
