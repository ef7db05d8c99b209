# Simulated AHT20 and AHT10 for sim/i2c.py.
import time

from i2c import Chip, crc, now, ready


class AHT(Chip):
    """AHT20 (AHT10 with aht10=True): status byte (bit 7 busy, bit 3 calibrated), 0xBE (AHT10:
    0xE1) calibrates, 0xAC 0x33 0x00 measures for 80 ms, then 20-bit humidity and temperature
    (and a CRC on the AHT20)."""

    def __init__(self, aht10=False):
        super().__init__()
        self.name = "aht10" if aht10 else "aht20"
        self.init_cmd = 0xE1 if aht10 else 0xBE
        self.calibrated = False
        self.busy_until = None
        self.data = bytes(5)

    def write(self, data, cfg):
        cmd = data[0] if data else None
        if cmd == self.init_cmd:
            self.calibrated = True
        elif cmd == 0xBA:
            self.calibrated = False
        elif cmd == 0xAC:
            h = min(max(float(cfg.get("humidity", 0)), 0), 100) * 1048576 / 100
            t = (float(cfg.get("temperature", 0)) + 50) * 1048576 / 200
            h = min(int(h + 0.5), 0xFFFFF)
            t = min(max(int(t + 0.5), 0), 0xFFFFF)
            mid = ((h & 0xF) << 4) | (t >> 16)
            self.data = bytes((h >> 12, (h >> 4) & 0xFF, mid, (t >> 8) & 0xFF, t & 0xFF))
            self.busy_until = time.ticks_add(now(), 80)

    def read(self, n, cfg):
        busy = self.busy_until is not None and not ready(self.busy_until)
        calibrated = self.calibrated or cfg.get("calibrated") is True
        out = bytearray(((0x90 if busy else 0x10) | (0x08 if calibrated else 0),))
        out += bytes(5) if busy else self.data
        if self.name == "aht20" and n > 6:
            check = crc(out)
            out.append(check ^ 0xFF if self.corrupt(cfg) else check)
        return bytes(out[:n])
