# SCD40/41 CO2, temperature and humidity on I2C, in periodic measurement (one every 5 s),
# CRC checked. Each reading waits for the next measurement.
# spec: {"id", "type": "scd4x", "bus": {"sda", "scl", "freq"} (or "sda"/"scl"/"freq"),
#        "address": int = 0x62, "interval": s (a new value comes every 5 s)}
# state: {"co2": ppm, "temperature": C, "humidity": %} or {"error": str}
import asyncio
from micropython import const

from home import bus

_START = b"\x21\xb1"
_STOP = b"\x3f\x86"  # then 500 ms before the next command
_READY = b"\xe4\xb8"
_READ = b"\xec\x05"
_WAIT_POLLS = const(70)  # of 100 ms: a measurement every 5 s, and some slack


class SCD4x(bus.I2CSensor):
    kind = "scd4x"
    address = 0x62
    size = 9  # three words with their CRCs; head: one (the data-ready status)
    short = 3
    running = False  # in periodic measurement

    def close(self):
        try:
            self.bus.write(self.addr, _STOP)
        except OSError:
            pass
        super().close()

    async def command(self, cmd, reply):
        self.bus.write(self.addr, cmd)
        await asyncio.sleep_ms(1)
        self.bus.readinto(self.addr, reply)
        bus.check_words(reply, len(reply) // 3)

    async def measure(self):
        if not self.running:
            # stop first: periodic mode may have outlived a soft reboot; and a stop just sent
            # (a driver replaced by a new configuration) keeps the sensor busy for 500 ms
            await asyncio.sleep_ms(500)
            self.bus.write(self.addr, _STOP)
            await asyncio.sleep_ms(500)
            self.bus.write(self.addr, _START)
            self.running = True
        try:
            for _ in range(_WAIT_POLLS):
                await self.command(_READY, self.head)
                if bus.word(self.buf, 0) & 0x07FF:
                    break
                await asyncio.sleep_ms(100)
            else:
                raise OSError(5)  # EIO: measuring, but never ready
            await self.command(_READ, self.buf)
        except OSError:
            self.running = False  # a device that went away restarts its measurements
            raise
        b = self.buf
        return {
            "co2": bus.word(b, 0),
            "temperature": round(-45 + 175 * bus.word(b, 1) / 65535, 2),
            "humidity": round(100 * bus.word(b, 2) / 65535, 2),
        }


make = SCD4x
