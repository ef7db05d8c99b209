# AHT20 (or AHT10) temperature and humidity on I2C.
# spec: {"id", "type": "aht20", "bus": {"sda": int, "scl": int, "freq": int = 100000}
#        (or "sda"/"scl"/"freq" at the top), "address": int = 0x38, "interval": s,
#        "model": "aht20" | "aht10" = "aht20"}
# state: {"temperature": C, "humidity": %} or {"error": str}
import asyncio
import errno
from micropython import const

from home import bus

_BUSY = const(0x80)
_CALIBRATED = const(0x08)
_MEASURE = b"\xac\x33\x00"
_INIT = {"aht20": b"\xbe\x08\x00", "aht10": b"\xe1\x08\x00"}


class AHT20(bus.I2CSensor):
    kind = "aht20"
    address = 0x38
    size = 7

    def __init__(self, home, spec):
        super().__init__(home, spec)
        model = spec.get("model") or "aht20"
        self.init = _INIT[model]
        self.crc = model == "aht20"  # the AHT10 sends no CRC
        view = memoryview(self.buf)
        self.status = view[:1]
        self.reply = view if self.crc else view[:6]

    async def measure(self):
        b = self.buf
        self.bus.readinto(self.addr, self.status)
        if not b[0] & _CALIBRATED:
            self.bus.write(self.addr, self.init)
            await asyncio.sleep_ms(10)
        self.bus.write(self.addr, _MEASURE)
        await asyncio.sleep_ms(80)
        for _ in range(5):
            self.bus.readinto(self.addr, self.reply)
            if not b[0] & _BUSY:
                break
            await asyncio.sleep_ms(10)
        else:
            raise OSError(errno.EIO)  # still busy
        if self.crc and bus.crc8(b, 0, 6) != b[6]:
            raise bus.CRCError
        h = (b[1] << 12) | (b[2] << 4) | (b[3] >> 4)
        t = ((b[3] & 0x0F) << 16) | (b[4] << 8) | b[5]
        return {
            "temperature": round(t * 200 / 1048576 - 50, 2),
            "humidity": round(h * 100 / 1048576, 2),
        }


make = AHT20
