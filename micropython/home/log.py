# Log lines to the console and, in batches, to MQTT `log`; a bounded ring keeps them while offline.
import gc
import json

import asyncio
from micropython import const
from time import ticks_diff, ticks_ms

LEVELS = "DIWEC"
_BATCH = const(10)
# A batch stops once it holds this many bytes (with each entry's JSON around it), so a whole
# `log` packet (at most about 720 bytes) fits the MQTT client's packet buffer.
_BATCH_BYTES = const(450)
_ENTRY_JSON = const(60)
_MSG_MAX = const(200)
# The ring holds at most this many bytes of lines (a line counts its text and _ENTRY_HEAP for
# its tuple and string headers), so a burst of long lines cannot take the heap a node runs in.
_RING_BYTES = const(3072)
_ENTRY_HEAP = const(48)

_last = ticks_ms()
_total = 0


def uptime_ms():
    """Milliseconds since boot, without the wrap of ticks_ms()."""
    global _last, _total
    now = ticks_ms()
    _total += ticks_diff(now, _last)
    _last = now
    return _total


class Log:
    def __init__(self, size=100):
        self.size = size
        self.entries = []  # (seq, t, lvl, src, msg), oldest first
        self.bytes = 0  # the ring's lines, counted as _RING_BYTES counts them
        self.seq = 0
        self.level = 1  # index in LEVELS: "I"
        self.dropped = 0
        self.boot = 0
        self.last = -1  # the seq of the last entry of the batch being sent
        self.event = asyncio.Event()

    def __call__(self, lvl, src, msg):
        try:
            t = uptime_ms()
            print("%d.%03d %s %s:" % (t // 1000, t % 1000, lvl, src), msg)
            if LEVELS.find(lvl) < self.level:
                return
            if len(msg) > _MSG_MAX:
                msg = msg[:_MSG_MAX]
            cost = len(msg) + _ENTRY_HEAP
            while self.entries and (
                len(self.entries) >= self.size or self.bytes + cost > _RING_BYTES
            ):
                self._pop()
                self.dropped += 1
            self.entries.append((self.seq, t, lvl, src, msg))
            self.bytes += cost
            self.seq += 1
            self.event.set()
        except MemoryError:  # a line is not worth a reboot
            self.dropped += 1

    def src(self, name):
        """A logger for one source: f(lvl, msg)."""
        return lambda lvl, msg: self(lvl, name, msg)

    async def send_loop(self, client, topic, ready):
        """Send the ring oldest first, QoS 1; an entry leaves the ring only once the broker has it.
        `ready` is set while connected and done with the burst that follows a connect. A batch
        is written into the MQTT packet buffer (write_batch): no text of it is held meanwhile."""
        while True:
            await self.event.wait()
            self.event.clear()
            while self.entries:
                await ready.wait()
                try:
                    self.last = self._last()
                    await client.publish(topic, self.write_batch, False, 1)
                except MemoryError as e:
                    print("log: no memory for a batch:", e)
                    gc.collect()
                    await asyncio.sleep_ms(200)
                    continue
                while self.entries and self.entries[0][0] <= self.last:
                    self._pop()

    def _pop(self):
        self.bytes -= len(self.entries.pop(0)[4]) + _ENTRY_HEAP

    def _last(self):
        """The seq of the last entry of the next batch: the oldest entries, at most _BATCH of
        them or about _BATCH_BYTES with their JSON."""
        size = n = 0
        for e in self.entries:
            if size > _BATCH_BYTES or n == _BATCH:
                break
            size += len(e[4]) + _ENTRY_JSON
            n += 1
            last = e[0]
        return last

    def write_batch(self, out):
        """The `log` payload of the entries up to self.last, into the stream out (again for a
        retry: an entry that left the ring meanwhile is counted as dropped)."""
        out.write('{"boot": %d, "entries": [' % self.boot)
        comma = ""
        for e in self.entries:
            if e[0] > self.last:
                break
            out.write('%s{"seq": %d, "t": %d, "lvl": "%s", "src": ' % (comma, e[0], e[1], e[2]))
            json.dump(e[3], out)
            out.write(', "msg": ')
            json.dump(e[4], out)
            out.write("}")
            comma = ","
        out.write("]}")
