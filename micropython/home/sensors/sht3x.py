# SHT30/31/35 temperature and humidity on I2C, single shot, high repeatability, CRC checked.
# spec: {"id", "type": "sht3x", "bus": {"sda", "scl", "freq"} (or "sda"/"scl"/"freq"),
#        "address": int = 0x44 (0x45 with ADDR high), "interval": s}
# state: {"temperature": C, "humidity": %} or {"error": str}
import asyncio

from home import bus

_MEASURE = b"\x24\x00"  # single shot, high repeatability, no clock stretching: 15 ms


class SHT(bus.I2CSensor):
    kind = "sht3x"
    command = _MEASURE
    wait_ms = 20
    address = 0x44
    rh_offset = 0
    rh_span = 100
    size = 6

    async def measure(self):
        self.bus.write(self.addr, self.command)
        await asyncio.sleep_ms(self.wait_ms)
        self.bus.readinto(self.addr, self.buf)
        bus.check_words(self.buf, 2)
        t = -45 + 175 * bus.word(self.buf, 0) / 65535
        rh = self.rh_offset + self.rh_span * bus.word(self.buf, 1) / 65535
        return {"temperature": round(t, 2), "humidity": round(min(max(rh, 0), 100), 2)}


make = SHT
