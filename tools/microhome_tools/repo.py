"""Where the MicroHome integration's source is, for the tools that load it in-process."""

import os
import sys
from pathlib import Path

from microhome_tools import REPO


class RepositoryNotFound(RuntimeError):
    """The tools run outside a MicroHome checkout and MICROHOME_ROOT does not name one."""


def repository_root() -> Path:
    """The checkout holding custom_components/microhome: $MICROHOME_ROOT, else this tree's."""
    candidates = [Path(root) for root in [os.environ.get("MICROHOME_ROOT")] if root] + [REPO]
    for root in candidates:
        if (root / "custom_components" / "microhome" / "manifest.json").is_file():
            return root.resolve()
    tried = ", ".join(str(root) for root in candidates)
    raise RepositoryNotFound(
        "this needs the MicroHome integration's source (custom_components/microhome), "
        f"found in none of: {tried}. Run it through scripts/env from a MicroHome checkout, "
        "or set MICROHOME_ROOT to one."
    )


def import_integration_from_repository() -> Path:
    """Make `custom_components.microhome` importable from the checkout; return its root."""
    root = repository_root()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return root
