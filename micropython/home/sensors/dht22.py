# DHT22 temperature and humidity, read every `interval` s (never faster than every 2 s).
import asyncio
import dht
from machine import Pin
from micropython import const

from home.sensors import Driver

_TRIES = const(3)
_GAP_MS = const(2000)


class DHT22(Driver):
    kind = "dht22"

    def __init__(self, home, spec):
        super().__init__(home, spec)
        self.log = home.log.src(self.id)
        self.dev = dht.DHT22(Pin(spec["pin"]))

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

    async def run(self):
        interval = max(self.spec["interval"] * 1000, _GAP_MS)
        failed = False
        while True:
            for attempt in range(_TRIES):
                if attempt:
                    await asyncio.sleep_ms(_GAP_MS)
                got = self.read()
                if type(got) is tuple:
                    break
                self.log("D", "read %d failed: %s" % (attempt + 1, got))
            if type(got) is tuple:
                self.state = {"temperature": round(got[0], 1), "humidity": round(got[1], 1)}
                if failed:
                    self.log("I", "reading again")
                failed = False
            else:
                self.state = {"error": got}
                if not failed:
                    self.log("W", "no reading after %d tries: %s" % (_TRIES, got))
                failed = True
            await self.home.publish_state(self.id, self.state)
            await asyncio.sleep_ms(interval)


def make(home, spec):
    return DHT22(home, spec)
