"""Small pieces the `microhome` sub-commands share."""

import argparse
import importlib
import importlib.machinery
import importlib.util
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from microhome_tools import REPO

INTEGRATION_DIR = REPO / "custom_components" / "microhome"
_INTEGRATION_PACKAGE = "microhome_integration"
# Where the broker's CA certificate is stored on a board (config.py names it in MQTT_CA).
BOARD_CA_FILE = "ca.pem"
MQTT_TLS_PORT = 8883


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


def parse_broker(text: str, default_port: int = 1883) -> tuple[str, int]:
    """HOST[:PORT] of an MQTT broker."""
    host, _, port = text.rpartition(":")
    if not host:
        return text, default_port
    return host, int(port)


def add_broker_arguments(parser: argparse.ArgumentParser) -> None:
    """--mqtt-user, --mqtt-password and TLS: the broker options of `flash` and `sim`."""
    parser.add_argument("--mqtt-user")
    parser.add_argument("--mqtt-password")
    parser.add_argument(
        "--mqtt-tls",
        action="store_true",
        help=f"talk TLS to the broker (port {MQTT_TLS_PORT} unless --broker names one); "
        "the node refuses a broker whose certificate does not chain to --ca",
    )
    parser.add_argument(
        "--ca", type=Path, help="the CA certificate (PEM) the broker's certificate must chain to"
    )
    parser.add_argument(
        "--server-name", help="the name in the broker's certificate (default: the broker's host)"
    )


def broker_settings(args: argparse.Namespace) -> tuple[dict[str, object], bytes | None]:
    """config.py's broker settings (MQTT_HOST, ..., TLS), and the CA certificate to store as
    BOARD_CA_FILE (None without TLS)."""
    host, port = parse_broker(args.broker, MQTT_TLS_PORT if args.mqtt_tls else 1883)
    settings: dict[str, object] = {
        "MQTT_HOST": host,
        "MQTT_PORT": port,
        "MQTT_USER": args.mqtt_user,
        "MQTT_PASSWORD": args.mqtt_password,
    }
    if not args.mqtt_tls:
        if args.ca or args.server_name:
            raise SystemExit("--ca and --server-name need --mqtt-tls")
        return settings, None
    if not args.ca:
        raise SystemExit("--mqtt-tls needs --ca FILE: the CA certificate the broker's chains to")
    try:
        ca = args.ca.read_bytes()
    except OSError as err:
        raise SystemExit(f"--ca {args.ca}: {err.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in ca:
        raise SystemExit(f"--ca {args.ca}: not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    settings.update(MQTT_TLS=True, MQTT_CA=BOARD_CA_FILE, MQTT_SERVER_NAME=args.server_name)
    return settings, ca


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


def stop_process(process: subprocess.Popen[Any], within: float, *, terminate: bool = True) -> None:
    """Stop process: SIGTERM (unless terminate is False: it was asked to end another way),
    then SIGKILL if it has not ended within seconds."""
    if process.poll() is not None:
        return
    if terminate:
        process.terminate()
    try:
        process.wait(within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
