# BH1750 illuminance on I2C: one measurement per reading at high resolution (1 lx), then the
# chip powers itself down.
# spec: {"id", "type": "bh1750", "bus": {"sda", "scl", "freq"} (or "sda"/"scl"/"freq"),
#        "address": int = 0x23 (0x5C with ADDR high), "interval": s}
# state: {"illuminance": lx} or {"error": str}
import asyncio

from home import bus

_ONE_TIME_HIGH = b"\x20"  # 120 ms typical, 180 ms at most


class BH1750(bus.I2CSensor):
    kind = "bh1750"
    address = 0x23
    size = 2

    async def measure(self):
        self.bus.write(self.addr, _ONE_TIME_HIGH)
        await asyncio.sleep_ms(180)
        self.bus.readinto(self.addr, self.buf)
        return {"illuminance": round(((self.buf[0] << 8) | self.buf[1]) / 1.2, 1)}


make = BH1750
