# MQTT 3.1.1 client on asyncio streams: QoS 0/1, retain, last will, keepalive,
# reconnect with exponential back-off and jitter. The broker's name is looked up
# again on every connect. A QoS 1 publish is retried until the broker acks it,
# across reconnects, so it is never lost.
import asyncio
import struct
from random import getrandbits
from time import ticks_diff, ticks_ms

from micropython import const

_ACK_TIMEOUT = const(5000)
_CONNECT_TIMEOUT = const(8000)


def _str(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack("!H", len(s)) + s


def _header(kind, size):
    out = bytearray((kind,))
    while True:
        byte = size & 0x7F
        size >>= 7
        out.append(byte | 0x80 if size else byte)
        if not size:
            return out


class MQTTClient:
    def __init__(
        self,
        client_id,
        host,
        port=1883,
        user=None,
        password=None,
        keepalive=30,
        will=None,
        on_message=None,
        on_connect=None,
        on_down=None,
        log=None,
        net=None,
        min_delay=500,
        max_delay=30000,
    ):
        self.client_id = client_id
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.will = will  # (topic, message, retain, qos)
        self.on_message = on_message  # (topic str, payload bytes, retained bool), synchronous
        self.on_connect = on_connect  # coroutine function, run as a task after each connect
        self.on_down = on_down  # called when a connection is lost
        self.log = log or (lambda lvl, msg: None)
        self.net = net  # asyncio.Event that is set while the network is up
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.subs = []  # (topic, qos), subscribed on every connect
        self.up = asyncio.Event()
        self.connects = 0
        self._down = asyncio.Event()
        self._lock = asyncio.Lock()
        self._reader = None
        self._writer = None
        self._pid = 0
        self._unacked = set()
        self._last_rx = 0
        self._last_tx = 0

    def _next_pid(self):
        self._pid = self._pid % 65535 + 1
        return self._pid

    async def _send(self, *parts):
        async with self._lock:
            w = self._writer
            if w is None:
                raise OSError(107)  # ENOTCONN
            for part in parts:
                w.write(part)
            await w.drain()
            self._last_tx = ticks_ms()

    async def _read_packet(self):
        r = self._reader
        kind = (await r.readexactly(1))[0]
        size = 0
        shift = 0
        while True:
            byte = (await r.readexactly(1))[0]
            size |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
        body = await r.readexactly(size) if size else b""
        self._last_rx = ticks_ms()
        return kind, body

    async def _connect(self):
        self._reader = self._writer = None
        r, w = await asyncio.wait_for_ms(
            asyncio.open_connection(self.host, self.port), _CONNECT_TIMEOUT
        )
        self._reader = r
        self._writer = w
        flags = 0x02  # clean session
        payload = _str(self.client_id)
        if self.will:
            topic, msg, retain, qos = self.will
            flags |= 0x04 | qos << 3 | (0x20 if retain else 0)
            payload += _str(topic) + _str(msg)
        if self.user:
            flags |= 0x80
            payload += _str(self.user)
            if self.password:
                flags |= 0x40
                payload += _str(self.password)
        head = b"\x00\x04MQTT\x04" + bytes((flags,)) + struct.pack("!H", self.keepalive)
        await self._send(_header(0x10, len(head) + len(payload)), head, payload)
        kind, body = await asyncio.wait_for_ms(self._read_packet(), _CONNECT_TIMEOUT)
        if kind != 0x20 or len(body) != 2 or body[1]:
            raise OSError(-(body[1] if len(body) == 2 else 255))  # refused by the broker
        if self.subs:
            pid = self._next_pid()
            payload = b"".join(_str(t) + bytes((q,)) for t, q in self.subs)
            await self._send(_header(0x82, 2 + len(payload)), struct.pack("!H", pid), payload)

    def _close(self):
        w = self._writer
        self._reader = self._writer = None
        if w:
            try:
                w.s.close()
            except (OSError, AttributeError):
                pass

    def disconnect(self):
        """Drop the connection now (for example when Wi-Fi is lost); run() reconnects."""
        self.up.clear()  # first: publishers must wait for the next connection, not spin
        self._down.set()

    async def run(self):
        """Keep a session up forever."""
        delay = self.min_delay
        while True:
            if self.net:
                await self.net.wait()
            try:
                await self._connect()
            except Exception as e:  # OSError, EOFError, TimeoutError
                self._close()
                wait = delay - delay // 4 + getrandbits(16) % (delay // 2 + 1)
                self.log("W", "connect to %s:%d failed (%r), retry in %d ms" % (self.host, self.port, e, wait))
                await asyncio.sleep_ms(wait)
                delay = min(delay * 2, self.max_delay)
                continue
            delay = self.min_delay
            self.connects += 1
            self._down.clear()
            self.up.set()
            self.log("I", "connected to %s:%d" % (self.host, self.port))
            reader = asyncio.create_task(self._read_loop())
            pinger = asyncio.create_task(self._ping_loop())
            if self.on_connect:
                asyncio.create_task(self.on_connect())
            await self._down.wait()
            self.up.clear()
            reader.cancel()
            pinger.cancel()
            self._close()
            self.log("W", "connection lost")
            if self.on_down:
                self.on_down()
            await asyncio.sleep_ms(0)

    async def _read_loop(self):
        try:
            while True:
                kind, body = await self._read_packet()
                k = kind & 0xF0
                if k == 0x30:
                    await self._on_publish(kind, body)
                elif k == 0x40 and len(body) >= 2:  # PUBACK
                    self._unacked.discard(struct.unpack_from("!H", body)[0])
                elif k == 0x90 and len(body) >= 3 and body[2] & 0x80:
                    self.log("E", "subscribe refused")
        except Exception as e:  # OSError, EOFError on a dropped connection
            if not self._down.is_set():
                self.log("D", "read: %r" % e)
            self.disconnect()

    async def _on_publish(self, kind, body):
        size = struct.unpack_from("!H", body)[0]
        topic = str(body[2 : 2 + size], "utf-8")
        pos = 2 + size
        qos = kind >> 1 & 3
        pid = 0
        if qos:
            pid = struct.unpack_from("!H", body, pos)[0]
            pos += 2
        if self.on_message:
            self.on_message(topic, body[pos:], bool(kind & 1))
        if qos == 1:
            await self._send(b"\x40\x02", struct.pack("!H", pid))

    async def _ping_loop(self):
        period = self.keepalive * 500
        while True:
            await asyncio.sleep_ms(period // 4)
            now = ticks_ms()
            if ticks_diff(now, self._last_rx) > self.keepalive * 1500:
                self.log("W", "broker silent for %d s" % (self.keepalive * 3 // 2))
                self.disconnect()
                return
            if ticks_diff(now, self._last_tx) >= period:
                try:
                    await self._send(b"\xc0\x00")
                except OSError:
                    self.disconnect()
                    return

    async def publish(self, topic, msg, retain=False, qos=0):
        """Publish msg (str, bytes or a list of them, sent one after another).
        QoS 0 returns False at once when offline; QoS 1 returns once the broker acks."""
        if type(msg) is not list:
            msg = [msg]
        size = 0
        for i, part in enumerate(msg):
            if type(part) is str:
                msg[i] = part = part.encode()
            size += len(part)
        topic = _str(topic)
        if not qos:
            if not self.up.is_set():
                return False
            try:
                await self._send(_header(0x31 if retain else 0x30, len(topic) + size), topic, *msg)
            except OSError:
                self.disconnect()
                return False
            return True
        pid = self._next_pid()
        head = _header(0x32 | (1 if retain else 0), len(topic) + 2 + size)
        pid_bytes = struct.pack("!H", pid)
        self._unacked.add(pid)
        while True:
            await self.up.wait()
            connects = self.connects
            try:
                await self._send(head, topic, pid_bytes, *msg)
            except OSError:
                self.disconnect()
                continue
            start = ticks_ms()
            while pid in self._unacked and self.connects == connects and self.up.is_set():
                if ticks_diff(ticks_ms(), start) > _ACK_TIMEOUT:
                    break
                await asyncio.sleep_ms(10)
            if pid not in self._unacked:
                return True
            head[0] |= 0x08  # DUP
