# Simulated BH1750 for sim/i2c.py.
import time

from i2c import Chip, nack, now, ready, u16


class BH1750(Chip):
    """BH1750: opcodes power down 0x00, power on 0x01, reset 0x07, continuous 0x10/0x11/0x13 and
    one-time 0x20/0x21/0x23 (H 1 lx, H2 0.5 lx, L 4 lx resolution; 120 ms or 16 ms), MTreg
    0x40|hi3, 0x60|lo5; a read gives the last result, 16 bits (0 before the first)."""

    name = "bh1750"

    def __init__(self):
        super().__init__()
        self.on = False
        self.mode = None
        self.mt = 69
        self.raw = 0
        self.ready_at = None

    def write(self, data, cfg):
        for op in data:
            if op == 0x00:
                self.on = False
            elif op == 0x01:
                self.on = True
            elif op == 0x07:
                if self.on:
                    self.raw = 0
            elif op in (0x10, 0x11, 0x13, 0x20, 0x21, 0x23):
                self.on = True
                self.mode = op
                ms = 16 if op & 0x03 == 0x03 else 120
                self.ready_at = time.ticks_add(now(), ms * self.mt // 69)
            elif op & 0xF8 == 0x40:
                self.mt = (self.mt & 0x1F) | ((op & 0x07) << 5)
            elif op & 0xE0 == 0x60:
                self.mt = (self.mt & 0xE0) | (op & 0x1F)
            else:
                nack()

    def read(self, n, cfg):
        if self.mode is not None and self.ready_at is not None and ready(self.ready_at):
            counts = float(cfg.get("illuminance", 0)) * 1.2 * self.mt / 69
            self.raw = u16(counts * 2 if self.mode & 0x03 == 0x01 else counts)
            if self.mode & 0x20:  # one-time: one result, then power down
                self.on = False
                self.ready_at = None
        return bytes((self.raw >> 8, self.raw & 0xFF))[:n]
