# DHT22 temperature and humidity, read every `interval` s (never faster than every 2 s).
import dht
from machine import Pin
from micropython import const

from home.poll import Polled

_GAP_MS = const(2000)


class DHT22(Polled):
    kind = "dht22"
    retry_ms = _GAP_MS  # the sensor answers at most every 2 s

    def __init__(self, home, spec):
        super().__init__(home, spec)
        self.dev = dht.DHT22(Pin(spec["pin"]))

    def close(self):
        self.dev = None

    def interval_ms(self):
        return max(self.spec["interval"] * 1000, _GAP_MS)

    async def measure(self):
        self.dev.measure()
        return {"temperature": round(self.dev.temperature(), 1), "humidity": round(self.dev.humidity(), 1)}

    def why(self, e):
        if isinstance(e, OSError):
            return "timeout" if e.args and e.args[0] == 110 else "read failed: %r" % e
        # the driver raises a bare Exception on a checksum error
        return "checksum" if "checksum" in str(e) else "read failed: %r" % e


def make(home, spec):
    return DHT22(home, spec)
