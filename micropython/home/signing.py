# HMAC-SHA256 signed messages (docs/protocol.md, "Signing"), HMAC written on hashlib.sha256.
import json
from binascii import hexlify
from hashlib import sha256

_HEX = b"0123456789abcdef"
# The error a refused message is answered with, by the stage of check() that refused it.
REFUSED = {"signature": "bad signature", "n": "bad value: n", "replay": "replayed n"}


class Signer:
    def __init__(self, key):
        if len(key) > 64:
            key = sha256(key).digest()
        key = key + bytes(64 - len(key))
        self._inner = bytes(b ^ 0x36 for b in key)
        self._outer = bytes(b ^ 0x5C for b in key)

    def hmac(self, *parts):
        return self.end(self.begin(*parts))

    def begin(self, *parts):
        """An HMAC under way over parts; end() gives it."""
        inner = sha256(self._inner)
        for part in parts:
            inner.update(part)
        return inner

    def end(self, inner):
        outer = sha256(self._outer)
        outer.update(inner.digest())
        return outer.digest()

    def sign(self, topic, body):
        return hexlify(self.hmac(topic, b"\n", body))


def key_id(key):
    return hexlify(sha256(key).digest()).decode()[:8]


def verify(signer, topic, payload):
    """The body of a correctly signed payload, or None."""
    sig = signature(payload)
    if sig is None:
        return None
    body = payload[65:]
    return body if same(signer.sign(topic, body), sig) else None


def signature(payload):
    """The 64 hex characters a signed payload starts with (before a space), or None."""
    if len(payload) < 65 or payload[64] != 0x20:
        return None
    sig = payload[:64]
    for c in sig:
        if c not in _HEX:
            return None
    return sig


def same(good, sig):
    """The 64-character signatures are equal (in constant time)."""
    diff = 0
    for i in range(64):
        diff |= good[i] ^ sig[i]
    return not diff


def check(signer, topic, payload, last_n):
    """(None, body dict) for a message to act on, else (stage, None) with stage
    "signature", "n" or "replay" (the protocol's order)."""
    body = verify(signer, topic, payload)
    if body is None:
        return "signature", None
    try:
        data = json.loads(body)
    except Exception:  # ValueError; MemoryError or RuntimeError for a body nested too deep
        return "n", None
    if type(data) is not dict or type(data.get("n")) is not int:
        return "n", None
    if data["n"] <= last_n:
        return "replay", data
    return None, data
