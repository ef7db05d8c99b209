# onewire for the unix port (a board has it built in): a simulated 1-Wire bus per pin whose
# DS18B20 probes are configured in hw.json, keyed by pin and ROM code (hex, 8 bytes):
#   {"onewire": {"22": {"28ff641e8216015e": {"temperature": 21.5}}}}
# A probe with "absent": true does not answer (it reads as 0xFF, as the pulled-up line does);
# "bad_crc": N makes the CRC of its next N scratchpads wrong (true: all of them).
# The bus follows the real byte protocol: reset, a ROM command (0xCC skip, 0x55 match + ROM),
# then a function command (0x44 convert, 0xBE read scratchpad, 0x4E write scratchpad).
import time

import machine


class OneWireError(Exception):
    pass


_probes = {}  # (pin, rom hex) -> Probe, kept across OneWire objects


class Probe:
    """A DS18B20's scratchpad: temperature (85 C at power-on), TH, TL, configuration (12 bits),
    CRC; a conversion takes 750 ms at 12 bits (less at lower resolutions)."""

    def __init__(self):
        self.scratch = bytearray(b"\x50\x05\x4b\x46\x7f\xff\x0c\x10\x00")
        self.pending = None  # (raw, ready at)
        self.replies = 0

    def convert(self, cfg):
        t = float(cfg.get("temperature", 0)) * 16
        raw = int(t + 0.5 if t >= 0 else t - 0.5)
        bits = 9 + ((self.scratch[4] >> 5) & 3)
        raw &= ~((1 << (12 - bits)) - 1)
        self.pending = (raw & 0xFFFF, time.ticks_add(time.ticks_ms(), 750 >> (12 - bits)))

    def read(self, cfg):
        if self.pending and time.ticks_diff(time.ticks_ms(), self.pending[1]) >= 0:
            self.scratch[0] = self.pending[0] & 0xFF
            self.scratch[1] = self.pending[0] >> 8
            self.pending = None
        self.scratch[8] = crc8(self.scratch[:8])
        bad = cfg.get("bad_crc")
        self.replies += 1
        out = bytearray(self.scratch)
        if bad is True or (type(bad) is int and self.replies <= bad):
            out[8] ^= 0xFF
        return out


def crc8(data):
    """Dallas/Maxim CRC-8 (reflected polynomial 0x8C, initial 0); 0 over data with its CRC."""
    crc = 0
    for byte in data:
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc


class OneWire:
    SEARCH_ROM = 0xF0
    MATCH_ROM = 0x55
    SKIP_ROM = 0xCC

    def __init__(self, pin):
        self.pin = pin.name if isinstance(pin, machine.Pin) else str(pin)
        self.state = None
        self.selected = []
        self.rom = bytearray()
        self.out = bytearray()

    def devices(self):
        """ROM hex -> configuration of the probes that answer on this pin."""
        buses = machine.hw("onewire")
        bus = buses.get(self.pin) if type(buses) is dict else None
        if type(bus) is not dict:
            return {}
        return {rom: cfg for rom, cfg in bus.items() if type(cfg) is dict and not cfg.get("absent")}

    def probe(self, rom):
        key = (self.pin, rom)
        if key not in _probes:
            _probes[key] = Probe()
        return _probes[key]

    def reset(self, required=False):
        present = bool(self.devices())
        self.state = "rom"
        self.selected = []
        self.out = bytearray()
        if required and not present:
            raise OneWireError
        return present

    def writebyte(self, value):
        devices = self.devices()
        if self.state == "rom":
            if value == self.SKIP_ROM:
                self.selected = list(devices)
                self.state = "function"
            elif value == self.MATCH_ROM:
                self.rom = bytearray()
                self.state = "match"
            else:
                self.state = None
        elif self.state == "match":
            self.rom.append(value)
            if len(self.rom) == 8:
                rom = "".join("%02x" % b for b in self.rom)
                self.selected = [rom] if rom in devices else []
                self.state = "function"
        elif self.state == "function":
            self.state = None
            if value == 0x44:
                for rom in self.selected:
                    self.probe(rom).convert(devices[rom])
            elif value == 0xBE:
                self.out = bytearray(b"\xff" * 9)
                for rom in self.selected:  # several talking at once: the line is a wired AND
                    reply = self.probe(rom).read(devices[rom])
                    for i in range(9):
                        self.out[i] &= reply[i]
            elif value == 0x4E:
                self.state = "scratch"
                self.rom = bytearray()
        elif self.state == "scratch":
            self.rom.append(value)
            if len(self.rom) == 3:
                for rom in self.selected:
                    self.probe(rom).scratch[2:5] = self.rom
                self.state = None

    def write(self, buf):
        for value in buf:
            self.writebyte(value)

    def readbyte(self):
        if not self.out:
            return 0xFF
        value = self.out[0]
        self.out = self.out[1:]
        return value

    def readinto(self, buf):
        for i in range(len(buf)):
            buf[i] = self.readbyte()

    def select_rom(self, rom):
        self.reset()
        self.writebyte(self.MATCH_ROM)
        self.write(rom)

    def scan(self):
        """The ROM codes on the bus (the search algorithm's result, lowest first)."""
        return [bytearray(bytes.fromhex(rom)) for rom in sorted(self.devices())]

    def crc8(self, data):
        return crc8(data)
