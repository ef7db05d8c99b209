# DHT22 temperature and humidity, read every `interval` s (never faster than every 2 s). All
# DHT22s share one task (home/group.py), which reads each one when it is due.
import asyncio
import dht
from machine import Pin
from micropython import const
from time import ticks_add, ticks_diff, ticks_ms

from home.group import Grouped

_TRIES = const(3)
_GAP_MS = const(2000)
_IDLE_MS = const(3600000)


class DHT22(Grouped):
    kind = "dht22"
    group = []

    def __init__(self, home, spec):
        super().__init__(home, spec)
        self.dev = dht.DHT22(Pin(spec["pin"]))
        self.due = ticks_ms()
        self.tries = 0  # failed reads in a row

    def stop(self):
        super().stop()
        self.dev = None

    def read(self):
        """(temperature, humidity) or an error string."""
        try:
            self.dev.measure()
            return self.dev.temperature(), self.dev.humidity()
        except OSError as e:
            return "timeout" if e.args and e.args[0] == 110 else "read failed: %r" % e
        except Exception as e:  # the driver raises a bare Exception on a checksum error
            return "checksum" if "checksum" in str(e) else "read failed: %r" % e

    @staticmethod
    async def wake(group):
        now = ticks_ms()
        wait = _IDLE_MS
        for sensor in group:
            wait = min(wait, ticks_diff(sensor.due, now))
        if wait > 0:
            await asyncio.sleep_ms(wait)

    async def step(self):
        """A read if one is due: a failed one is tried again _GAP_MS later, _TRIES times, before
        the error is published."""
        if ticks_diff(self.due, ticks_ms()) > 0:
            return
        log = self.home.log
        got = self.read()
        failed = self.state is not None and "error" in self.state
        if type(got) is tuple:
            state = {"temperature": round(got[0], 1), "humidity": round(got[1], 1)}
            if failed:
                log("I", self.id, "reading again")
        else:
            self.tries += 1
            log("D", self.id, "read %d failed: %s" % (self.tries, got))
            if self.tries < _TRIES:
                self.due = ticks_add(ticks_ms(), _GAP_MS)
                return
            state = {"error": got}
            if not failed:
                log("W", self.id, "no reading after %d tries: %s" % (_TRIES, got))
        self.state = state
        await self.home.publish_state(self.id, state)
        self.tries = 0  # only now: out of memory to publish it, it is read again soon
        self.due = ticks_add(ticks_ms(), max(self.spec["interval"] * 1000, _GAP_MS))


make = DHT22
