"""Small pieces the `microhome` sub-commands share."""

import hashlib
import hmac
import socket


def node_key(fleet_key: bytes, node_id: str) -> bytes:
    """The node key, as the protocol derives it from the fleet key."""
    return hmac.new(fleet_key, node_id.encode(), hashlib.sha256).digest()


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
