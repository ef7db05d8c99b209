# ds18x20 for the unix port (a board has it frozen in): MicroPython's DS18X20 API over the
# simulated onewire bus, byte by byte as on a board.
from micropython import const

_CONVERT = const(0x44)
_READ_SCRATCH = const(0xBE)
_WRITE_SCRATCH = const(0x4E)


class DS18X20:
    def __init__(self, onewire):
        self.ow = onewire
        self.buf = bytearray(9)

    def scan(self):
        return [rom for rom in self.ow.scan() if rom[0] in (0x10, 0x22, 0x28)]

    def convert_temp(self):
        self.ow.reset(True)
        self.ow.writebyte(self.ow.SKIP_ROM)
        self.ow.writebyte(_CONVERT)

    def read_scratch(self, rom):
        self.ow.reset(True)
        self.ow.select_rom(rom)
        self.ow.writebyte(_READ_SCRATCH)
        self.ow.readinto(self.buf)
        if self.ow.crc8(self.buf):
            raise Exception("CRC error")
        return self.buf

    def write_scratch(self, rom, buf):
        self.ow.reset(True)
        self.ow.select_rom(rom)
        self.ow.writebyte(_WRITE_SCRATCH)
        self.ow.write(buf)

    def read_temp(self, rom):
        buf = self.read_scratch(rom)
        if rom[0] == 0x10:  # DS18S20: 0.5 C steps, refined by COUNT_REMAIN
            t = (buf[0] >> 1) | (0x80 if buf[1] else 0)
            t = t - 256 if t & 0x80 else t
            return t - 0.25 + (buf[7] - buf[6]) / buf[7]
        t = buf[1] << 8 | buf[0]
        return (t - 65536 if t & 0x8000 else t) / 16
