"""Small pieces the `microhome` sub-commands share."""

import importlib
import importlib.machinery
import importlib.util
import socket
import sys
from types import ModuleType

from microhome_tools import REPO

INTEGRATION_DIR = REPO / "custom_components" / "microhome"
_INTEGRATION_PACKAGE = "microhome_integration"


def integration_module(name: str) -> ModuleType:
    """A plain-Python module of the integration (`protocol`, `catalogue`), loaded without the
    package's __init__, which needs Home Assistant."""
    if _INTEGRATION_PACKAGE not in sys.modules:
        spec = importlib.machinery.ModuleSpec(_INTEGRATION_PACKAGE, None, is_package=True)
        package = importlib.util.module_from_spec(spec)
        package.__path__ = [str(INTEGRATION_DIR)]
        sys.modules[_INTEGRATION_PACKAGE] = package
    return importlib.import_module(f"{_INTEGRATION_PACKAGE}.{name}")


def node_key(fleet_key: bytes, node_id: str) -> bytes:
    """The node key, derived as the protocol module derives it."""
    derive = integration_module("protocol").node_key
    return bytes(derive(fleet_key, node_id))


def parse_broker(text: str) -> tuple[str, int]:
    """HOST[:PORT] of an MQTT broker; the port defaults to 1883."""
    host, _, port = text.rpartition(":")
    if not host:
        return text, 1883
    return host, int(port)


def render_config(settings: dict[str, object], writer: str) -> str:
    """A board's config.py, one assignment a line."""
    lines = [f"# Written by `{writer}`. See config.example.py for every field."]
    lines += [f"{name} = {value!r}" for name, value in settings.items()]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
