# A signed message over the inbox's limit (docs/protocol.md, "Message size"), loaded only when
# one arrives. The MQTT reader reads it past in chunks: its signature is checked on the way
# (HMAC over the chunks) and the top-level "n" and "version" picked out of the JSON text, so
# it is refused like any other: a cmd on `reply`, a config/set on `config/state`.
import sys
from binascii import hexlify

from micropython import const

from home import store
from home.inbox import SIZE
from home.signing import REFUSED, same, signature

_KEY_MAX = const(8)
_N = const(1)
_VERSION = const(2)


class Large:
    def __init__(self, home, topic, head, size):
        self.home = home
        self.topic = topic
        self.size = size
        self.sig = bytes(signature(head) or b"")
        self.hmac = home.signer.begin(topic.encode(), b"\n") if self.sig else None
        self.found = {}
        # the JSON scanner: nesting depth, inside a string, after a backslash, the string
        # (a key when a colon follows it), the key whose integer value is being read
        self.depth = 0
        self.quoted = self.escaped = self.ended = False
        self.key = bytearray(_KEY_MAX)
        self.klen = 0
        self.field = 0
        self.value = self.digits = 0
        if self.sig:
            self.feed(head[65:])

    def feed(self, chunk):
        if chunk is None:
            self.done()
        elif self.hmac is not None:
            self.hmac.update(chunk)
            for c in chunk:
                self.scan(c)

    def scan(self, c):
        if self.quoted:
            if self.escaped:
                self.escaped = False
            elif c == 0x5C:  # backslash
                self.escaped = True
            elif c == 0x22:  # the closing quote
                self.quoted = False
                self.ended = self.depth == 1
            elif self.klen < _KEY_MAX:
                self.key[self.klen] = c
                self.klen += 1
            else:
                self.klen = _KEY_MAX + 1  # longer than any key looked for
            return
        if self.field:
            if 0x30 <= c <= 0x39:
                self.value = self.value * 10 + c - 0x30
                self.digits += 1
                return
            if not self.digits and c in b" \t\r\n":
                return
            if self.digits and c in b" \t\r\n,}" and self.field not in self.found:
                self.found[self.field] = self.value
            self.field = 0
        if c == 0x22:
            self.quoted = True
            self.klen = 0
        elif c == 0x3A and self.ended:  # a colon after a top-level string: it was a key
            key = bytes(self.key[: self.klen]) if self.klen <= _KEY_MAX else b""
            self.field = _N if key == b"n" else _VERSION if key == b"version" else 0
            self.value = self.digits = 0
        elif c in b"{[":
            self.depth += 1
        elif c in b"}]":
            self.depth -= 1
        if c not in b" \t\r\n":
            self.ended = False

    def done(self):
        """Refused as the protocol asks: a cmd on `reply`, a config/set only once its signature
        and n have checked, on `config/state` (published by the reply task)."""
        sys.modules.pop("home.large", None)  # loaded for this message only
        try:
            delattr(sys.modules["home"], "large")
        except AttributeError:
            pass
        home = self.home
        n = self.found.get(_N, 0)
        if not self.hmac or not same(hexlify(home.signer.end(self.hmac)), self.sig):
            stage = "signature"
        elif not n:
            stage = "n"
        elif n <= home.last_n:
            stage = "replay"
        else:
            stage = None
            home.accept_n(n)
        error = REFUSED[stage] if stage else "too large: %d bytes, the limit is %d" % (self.size, SIZE)
        if self.topic == home.cmd_topic:
            home.queue_reply(n, error)
        elif stage:
            home.log("W", "home", "config/set dropped: " + error)
        else:
            home.last_sig = self.sig
            store.write("sig", self.sig.decode())
            version = self.found.get(_VERSION)
            home.refused_config = (version if version is not None else home.cfg["version"], error)
            home.replies_event.set()
