# One DS18B20 probe on a 1-Wire bus, known by its ROM code (several probes share a pin, each
# its own peripheral). Scratchpad CRC checked; a probe that does not answer reports an error
# while the others on the pin go on.
# spec: {"id", "type": "ds18b20", "pin": int, "rom": "28ff641e8216015e" (16 hex digits),
#        "interval": s}
# state: {"temperature": C} or {"error": str}
import asyncio
from binascii import hexlify

import onewire
from machine import Pin
from micropython import const

from home.poll import CRCError, Polled

_CONVERT = const(0x44)
_READ_SCRATCH = const(0xBE)
_FAMILIES = b"\x10\x22\x28"  # DS18S20, DS1822, DS18B20


def scan(pin):
    """The ROM codes (hex) of the temperature probes found on `pin`, with valid CRCs."""
    ow = onewire.OneWire(Pin(pin))
    found = []
    for rom in ow.scan():
        if rom[0] in _FAMILIES and not ow.crc8(rom):
            found.append(hexlify(rom).decode())
    return found


class DS18B20(Polled):
    kind = "ds18b20"

    def __init__(self, home, spec):
        super().__init__(home, spec)
        self.rom = bytes.fromhex(spec["rom"])
        self.where = "from " + spec["rom"]
        self.ow = onewire.OneWire(Pin(spec["pin"]))
        self.buf = bytearray(9)

    def select(self):
        if not self.ow.reset():
            raise OSError(19)  # ENODEV: nothing on the bus
        self.ow.select_rom(self.rom)

    async def measure(self):
        self.select()
        self.ow.writebyte(_CONVERT)
        await asyncio.sleep_ms(750)  # 12-bit conversion
        self.select()
        self.ow.writebyte(_READ_SCRATCH)
        b = self.buf
        self.ow.readinto(b)
        if b[0] & b[1] & b[2] & b[3] & b[4] & b[8] == 0xFF:
            raise OSError(19)  # the line stayed high: no probe with this ROM answered
        if self.ow.crc8(b):
            raise CRCError
        raw = (b[1] << 8) | b[0]
        return {"temperature": (raw - 65536 if raw & 0x8000 else raw) / 16}  # exact: 1/16 C steps


make = DS18B20
