# MQTT 3.1.1 client on asyncio streams, after Peter Hinch's mqtt_as: QoS 0/1, retain, last
# will, keepalive, reconnect with exponential back-off and jitter. The broker's name is looked
# up again on every connect. A QoS 1 publish is retried until the broker acks it, across
# reconnects, so it is never lost.
#
# Every packet is assembled in one preallocated buffer and goes out in one write, on a socket
# with TCP_NODELAY (a packet in pieces waits for the broker's delayed ACK). CONNECT is the first
# packet of a connection and nothing else is written before its CONNACK: a sender holds the
# connection's generation, and a packet meant for an old connection is never written on a new
# one. An incoming PUBLISH larger than the inbox (rx_max) is read past in chunks and
# dropped, the connection kept. Payloads go straight into the inbox's ring buffer; one that does
# not fit there (the node is busy) is read into a small scratch buffer for on_message. A dict is
# published as JSON written straight into the packet buffer, and a function writes its payload
# there: no string of it is made.
import asyncio
import gc
import io
import json
import struct
from asyncio import open_connection  # noqa: F401 (asyncio loads its stream module on first use: now)
from random import getrandbits
from time import ticks_diff, ticks_ms

from micropython import const

from home import io_room, rare

_SCRATCH = const(384)  # topic, control packets, and a payload the inbox has no room for
_TX_SIZE = const(768)  # a larger packet is assembled in a buffer of its own, still one write
_ACK_TIMEOUT = const(5000)
_OOM_PAUSE_MS = const(100)
_WRITE_POLL_MS = const(10)  # a socket that takes no more now is tried again this much later
_WRITE_STALL_MS = const(10000)  # nothing taken for this long: the connection is gone
_CONNECT = ("home.lib.mqtt_connect",)
# Allocated at import, before the heap fragments: import this module early.
_tx = bytearray(_TX_SIZE)
_scratch = bytearray(_SCRATCH)


def _put_header(buf, kind, size, i=0):
    """Fixed header at buf[i:]; where it ends."""
    buf[i] = kind
    i += 1
    while True:
        byte = size & 0x7F
        size >>= 7
        buf[i] = byte | 0x80 if size else byte
        i += 1
        if not size:
            return i


def _put_str(buf, i, data):
    n = len(data)
    struct.pack_into("!H", buf, i, n)
    buf[i + 2 : i + 2 + n] = data
    return i + 2 + n


def _bytes(s):
    """The UTF-8 bytes of a str (a view, not a copy: a packet's payload is not allocated
    twice), or s."""
    return memoryview(s) if type(s) is str else s


class _Into(io.IOBase):
    """A stream writing into buf from i on; what goes past its end is only counted."""

    buf = None
    i = 0

    def write(self, data):
        data = _bytes(data)
        i = self.i
        j = self.i = i + len(data)
        if j <= len(self.buf):
            self.buf[i:j] = data
        return len(data)


_into = _Into()


async def read_some(stream, view):
    """Bytes read into view from an asyncio stream: at least 1, 0 at its end, None for TLS with
    no data yet. What has arrived is read at once; only for more does the task wait on the
    poller (io_room first)."""
    k = stream.s.readinto(view)
    if k is not None:
        return k
    io_room()
    return await stream.readinto(view)


def _put_json(buf, i, obj):
    """obj as JSON in buf from i on (json.dump writes it in pieces: nothing is allocated), or
    what the function obj writes into the stream it is given; where it ends, or, in a buffer
    too small, the buffer it would need."""
    into = _into
    into.buf, into.i = buf, i
    try:
        if type(obj) is dict:
            json.dump(obj, into)
        else:
            obj(into)
    finally:
        into.buf = None
    return into.i


class MQTTClient:
    tls = None  # plain TCP
    # Set by the owner to receive messages (subscriptions in `subs`):
    # inbox: home.inbox.Inbox, where payloads are queued; rx_max, the largest message, its size.
    # on_message(topic str, payload, retained bool, size), synchronous: payload None when
    # the message was queued in the inbox; else (no room) a memoryview of its first bytes
    # (all of them when size is no larger), valid only during the call. For a message
    # over rx_max it may return feed(chunk): given each further chunk, then None.
    inbox = on_message = None
    rx_max = _SCRATCH
    on_connect = None  # coroutine function, run as a task after each connect
    on_down = None  # called when a connection is lost
    min_delay = 500  # reconnect back-off, ms
    max_delay = 30000

    def __init__(self, client_id, host, port=1883, user=None, password=None, keepalive=30,
                 will=None, log=None, net=None, tls=None):  # fmt: skip
        self.client_id, self.host, self.port = client_id, host, port
        self.user, self.password, self.keepalive = user, password, keepalive
        self.will = will  # (topic, message, retain, qos)
        self.log = log or (lambda lvl, msg: None)
        self.net = net  # asyncio.Event that is set while the network is up
        if tls:  # tls(socket): that socket in TLS (home.broker_tls); never a plaintext fallback
            self.tls = tls
        self.subs = []  # (topic, qos), subscribed on every connect
        self.up = asyncio.Event()  # set from CONNACK (and SUBSCRIBE sent) to connection loss
        self.connects = 0
        self.dropped = 0  # incoming messages over rx_max
        self._gen = 0  # the connection's generation: +1 on every connect attempt
        self._down = asyncio.Event()
        self._lock = asyncio.Lock()
        self._reader = None
        self._writer = None
        self._pid = 0
        self._unacked = set()
        self._last_tx = 0
        self._last_rx = 0
        self.progress = ticks_ms()  # the supervision's last sign of life, for a watchdog
        self._ping_sent = None  # ticks of the oldest PINGREQ not answered yet
        self._tx = _tx
        self._rxv = memoryview(_scratch)
        self._one = self._rxv[:1]  # a header byte, read without allocating
        self._rx = 0  # bytes of the current packet read so far
        self._oom = False

    def _next_pid(self):
        self._pid = self._pid % 65535 + 1
        return self._pid

    # --- writing ------------------------------------------------------------------

    async def _write(self, buf, size, gen, start=0):
        """Write buf[start:size] on connection gen (the lock is held), straight to the socket:
        no copy of it is queued and no wait on the poller is needed (home.io_room). A packet
        cut short, by a MemoryError or a socket that takes nothing for _WRITE_STALL_MS, costs
        the connection: the rest of it cannot be told apart from the next one."""
        w = self._writer
        if w is None or gen != self._gen:
            raise OSError(107)  # ENOTCONN: that connection is gone
        s = w.s
        mv = memoryview(buf)
        begun = start
        since = ticks_ms()
        try:
            while start < size:
                k = s.write(mv[start:size])
                if k:
                    start += k
                    since = ticks_ms()
                    continue
                if ticks_diff(ticks_ms(), since) > _WRITE_STALL_MS:
                    raise OSError(110)  # ETIMEDOUT
                await asyncio.sleep_ms(_WRITE_POLL_MS)
                if self._writer is not w:
                    raise OSError(107)
        except MemoryError:
            if start == begun:  # nothing of it written
                raise
            self.disconnect(gen)
            raise OSError(12)  # ENOMEM
        self._last_tx = ticks_ms()

    async def _send_short(self, kind, pid, gen):
        """PUBACK (with pid) or PINGREQ (pid None)."""
        async with self._lock:
            if not self.up.is_set():
                raise OSError(107)
            buf = self._tx
            buf[0] = kind
            if pid is None:
                buf[1] = 0
                return await self._write(buf, 2, gen)
            buf[1] = 2
            struct.pack_into("!H", buf, 2, pid)
            await self._write(buf, 4, gen)

    async def _publish_packet(self, kind, topic, msg, pid, gen):
        async with self._lock:
            if not self.up.is_set():
                raise OSError(107)
            buf = self._tx
            size = 2 + len(topic) + (2 if pid else 0)
            if type(msg) is dict or callable(msg):
                # The payload first, after room for the longest header; then the header
                # right before it.
                end = _put_json(buf, 5 + size, msg)
                if end > len(buf):
                    buf = bytearray(end)
                    _put_json(buf, 5 + size, msg)
                size = end - 5
                start = 3 - (size > 127) - (size > 16383) - (size > 2097151)
                i = _put_str(buf, _put_header(buf, kind, size, start), topic)
                if pid:
                    struct.pack_into("!H", buf, i, pid)
                return await self._write(buf, end, gen, start)
            if type(msg) is not list:
                msg = (msg,)
            for part in msg:
                size += len(part)
            if size + 5 > len(buf):
                buf = bytearray(size + 5)
            i = _put_str(buf, _put_header(buf, kind, size), topic)
            if pid:
                struct.pack_into("!H", buf, i, pid)
                i += 2
            for part in msg:
                buf[i : i + len(part)] = part
                i += len(part)
            await self._write(buf, i, gen)

    # --- reading ------------------------------------------------------------------

    async def _fill(self, mv, start, end):
        """Read exactly mv[start:end]. Out of memory before a read, which loses nothing, the
        same read is made again once memory is back: a message is not cut short by it."""
        r = self._reader
        while start < end:
            try:
                k = await read_some(r, mv if start == 0 and end == len(mv) else mv[start:end])
            except MemoryError:  # no coroutine made here: only its making can fail a _fill
                self._no_memory("read")
                await asyncio.sleep_ms(_OOM_PAUSE_MS)
                continue
            if k is None:  # TLS: no application data yet
                continue
            if not k:
                raise EOFError
            start += k
            self._rx += k

    async def _read_header(self):
        """(packet type byte, remaining length)."""
        one = self._one
        await self._fill(one, 0, 1)
        kind = one[0]
        size = 0
        shift = 0
        while True:
            await self._fill(one, 0, 1)
            size |= (one[0] & 0x7F) << shift
            if not one[0] & 0x80:
                break
            shift += 7
            if shift > 21:
                raise OSError(22)  # not MQTT
        self._ping_sent = None  # the broker is there
        self._last_rx = ticks_ms()
        return kind, size

    async def _skip(self, size, feed=None):
        """Read past size bytes; feed(chunk) is given each chunk, then None (unless it fails)."""
        while size:
            n = min(size, _SCRATCH)
            await self._fill(self._rxv, 0, n)
            size -= n
            if feed:
                feed = self._feed(feed, self._rxv[:n])
        if feed:
            self._feed(feed, None)

    def _feed(self, feed, chunk):
        try:
            feed(chunk)
            return feed
        except MemoryError:
            self._no_memory("message")
        except Exception as e:  # a bug in the handler must not cost the connection
            self.log("E", "message handler: %r" % e)

    # --- connecting: home/lib/mqtt_connect.py, loaded only for it ----------------

    def _close(self):
        w = self._writer
        self._reader = self._writer = None
        if w:
            try:
                w.s.close()
            except (OSError, AttributeError):
                pass

    def disconnect(self, gen=None):
        """Drop the connection now (for example when Wi-Fi is lost); run() reconnects.
        With gen, only if that connection is still the current one."""
        if gen is not None and gen != self._gen:
            return
        self.up.clear()  # first: publishers must wait for the next connection, not spin
        self._down.set()

    def _no_memory(self, where):
        gc.collect()
        if not self._oom:
            self._oom = True
            try:
                self.log("E", "out of memory in %s" % where)
            except MemoryError:
                pass

    async def run(self):
        """Keep a session up forever."""
        delay = self.min_delay
        while True:
            self.progress = ticks_ms()
            try:
                if self.net:
                    await self.net.wait()
                try:
                    gen = await rare.call(_CONNECT, "connect", self)
                except MemoryError:
                    raise
                except Exception as e:  # OSError, EOFError, TimeoutError
                    self._close()
                    wait = delay - delay // 4 + getrandbits(16) % (delay // 2 + 1)
                    self.log("W", "connect to %s:%d failed (%r), retry in %d ms" % (self.host, self.port, e, wait))
                    await asyncio.sleep_ms(wait)
                    delay = min(delay * 2, self.max_delay)
                    continue
                delay = self.min_delay
                self.connects += 1
                self._ping_sent = None
                self._last_rx = ticks_ms()
                self._down.clear()
                self.up.set()
                self.log("I", "connected to %s:%d" % (self.host, self.port))
                reader = asyncio.create_task(self._read_loop(gen))
                pinger = asyncio.create_task(self._ping_loop(gen))
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
            except MemoryError:
                self.up.clear()
                self._gen += 1  # the tasks of that connection, if it was made, write nothing more
                self._close()
                self._no_memory("connect")
                await asyncio.sleep_ms(200)

    async def _read_loop(self, gen):
        end = None  # where the packet being read ends, once its header is read
        while True:
            try:
                if end is not None and self._rx < end:  # a MemoryError cut it short: the rest
                    await self._skip(end - self._rx)
                end = None
                self._rx = 0
                kind, size = await self._read_header()
                end = self._rx + size
                k = kind & 0xF0
                if k == 0x30:
                    body = self._rx
                    while True:
                        try:
                            await self._on_publish(kind, size, gen)
                            break
                        except MemoryError:
                            if self._rx != body:  # part of it read: skipped below
                                raise
                            await asyncio.sleep_ms(_OOM_PAUSE_MS)
                    continue
                if size > _SCRATCH:
                    await self._skip(size)
                    continue
                body = self._rxv
                await self._fill(body, 0, size)
                if k == 0x40 and size >= 2:  # PUBACK
                    self._unacked.discard(body[0] << 8 | body[1])
                elif k == 0x90 and size >= 3 and body[2] & 0x80:
                    self.log("E", "subscribe refused")
                self._oom = False
            except MemoryError:  # the message is lost, the connection kept
                self._no_memory("read")
                if end is None and self._rx:  # cut short inside a header: where it ends is lost
                    self.disconnect(gen)
                    return
                await asyncio.sleep_ms(_OOM_PAUSE_MS)  # never spin: the other tasks free memory
            except Exception as e:  # OSError, EOFError on a dropped connection
                if not self._down.is_set():
                    self.log("D", "read: %r" % e)
                self.disconnect(gen)
                return

    async def _on_publish(self, kind, size, gen):
        rx = self._rxv
        await self._fill(rx, 0, 2)  # out of memory before it reads: _read_loop makes this again
        tlen = rx[0] << 8 | rx[1]
        qos = kind >> 1 & 3
        head = 2 + tlen + (2 if qos else 0)
        if head > _SCRATCH or head > size:
            raise OSError(22)
        while True:  # no memory for the coroutine: nothing read, made again
            try:
                await self._fill(rx, 2, head)
                break
            except MemoryError:
                await asyncio.sleep_ms(_OOM_PAUSE_MS)
        pid = rx[head - 2] << 8 | rx[head - 1] if qos else 0
        while True:
            try:
                topic = str(rx[2 : 2 + tlen], "utf-8")
                break
            except MemoryError:
                self._no_memory("read")
                await asyncio.sleep_ms(_OOM_PAUSE_MS)
        n = size - head
        inbox = self.inbox
        start = inbox.reserve(n) if inbox is not None and n <= self.rx_max else None
        payload = feed = None
        if start is not None:
            while True:  # no memory for the coroutine: nothing read, made again
                try:
                    await self._fill(inbox.mv, start, start + n)
                    break
                except MemoryError:
                    await asyncio.sleep_ms(_OOM_PAUSE_MS)
            while True:
                try:
                    inbox.commit(topic, start, n)
                    break
                except MemoryError:
                    self._no_memory("read")
                await asyncio.sleep_ms(_OOM_PAUSE_MS)
        else:  # no room, or too large: its start (all of it when it fits) goes to on_message
            while True:  # no memory for the coroutine: nothing read, made again
                try:
                    await self._fill(rx, 0, min(n, _SCRATCH))
                    break
                except MemoryError:
                    await asyncio.sleep_ms(_OOM_PAUSE_MS)
            payload = rx[: min(n, _SCRATCH)]
        if self.on_message:
            try:
                feed = self.on_message(topic, payload, bool(kind & 1), n)
            except MemoryError:
                self._no_memory("message")
            except Exception as e:  # a bug in the handler must not cost the connection
                self.log("E", "message handler: %r" % e)
        if payload is not None:  # after on_message: it reuses the scratch
            await self._skip(n - len(payload), feed if callable(feed) else None)
        if n > self.rx_max:
            self.dropped += 1
            self.log("W", "message on %s dropped: %d bytes, the limit is %d" % (topic, n, self.rx_max))
        if qos == 1:
            try:
                await self._send_short(0x40, pid, gen)
            except OSError:
                self.disconnect(gen)

    async def _ping_loop(self, gen):
        """PINGREQ when nothing was sent for 3/4 of keepalive, or nothing received for
        keepalive; the broker is gone when a PINGREQ is not answered (by anything) within
        keepalive. Keepalive 0: no pings."""
        keepalive = self.keepalive * 1000
        while True:
            await asyncio.sleep_ms(keepalive // 8 or 5000)
            now = self.progress = ticks_ms()
            if not keepalive:
                continue
            sent = self._ping_sent
            if sent is not None and ticks_diff(now, sent) > keepalive:
                self.log("W", "no answer to PINGREQ in %d s" % self.keepalive)
                self.disconnect(gen)
                return
            if ticks_diff(now, self._last_tx) >= keepalive * 3 // 4 or (
                sent is None and ticks_diff(now, self._last_rx) >= keepalive
            ):
                try:
                    await self._send_short(0xC0, None, gen)
                except OSError:
                    self.disconnect(gen)
                    return
                except MemoryError:
                    self._no_memory("ping")
                    continue
                if sent is None:
                    self._ping_sent = now

    async def publish(self, topic, msg, retain=False, qos=0):
        """Publish msg: str, bytes, a list of them (sent one after another), a dict (as JSON),
        or a function that writes the payload into the stream it is given (called again for a
        retry). QoS 0 returns False at once when offline; QoS 1 returns once the broker acks."""
        if type(msg) is list:
            for i, part in enumerate(msg):
                msg[i] = _bytes(part)
        elif type(msg) is not dict and not callable(msg):
            msg = _bytes(msg)
        topic = _bytes(topic)
        if not qos:
            if not self.up.is_set():
                return False
            gen = self._gen
            try:
                await self._publish_packet(0x31 if retain else 0x30, topic, msg, 0, gen)
            except OSError:
                self.disconnect(gen)
                return False
            return True
        pid = self._next_pid()
        kind = 0x32 | (1 if retain else 0)
        self._unacked.add(pid)
        try:
            while True:
                await self.up.wait()
                gen = self._gen
                try:
                    await self._publish_packet(kind, topic, msg, pid, gen)
                except OSError:
                    self.disconnect(gen)
                    continue
                start = ticks_ms()
                while pid in self._unacked and gen == self._gen and self.up.is_set():
                    if ticks_diff(ticks_ms(), start) > _ACK_TIMEOUT:
                        break
                    await asyncio.sleep_ms(10)
                if pid not in self._unacked:
                    return True
                kind |= 0x08  # DUP
        finally:  # out of memory or cancelled too: the pid is not waited for any more
            self._unacked.discard(pid)
