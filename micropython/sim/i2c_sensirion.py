# Simulated Sensirion SHT3x, SHT4x and SCD4x for sim/i2c.py.
import time

from i2c import Chip, nack, now, ready, u16


def _sht_words(cfg, rh_offset, rh_span):
    t = (float(cfg.get("temperature", 0)) + 45) * 65535 / 175
    rh = (float(cfg.get("humidity", 0)) - rh_offset) * 65535 / rh_span
    return (u16(t), u16(rh))


class SHT3x(Chip):
    """SHT30/31/35: 16-bit commands; single shot 0x24xx (no clock stretching: the read NACKs
    until the 15 ms measurement is done) or 0x2Cxx (stretching); 0x30A2 soft reset, 0xF32D
    status. Replies are words with CRCs."""

    name = "sht3x"

    def __init__(self):
        super().__init__()
        self.reply = None
        self.ready_at = 0

    def write(self, data, cfg):
        if len(data) != 2:
            nack()
        cmd = (data[0] << 8) | data[1]
        if cmd in (0x2400, 0x240B, 0x2416, 0x2C06, 0x2C0D, 0x2C10):
            self.reply = self.words(cfg, _sht_words(cfg, 0, 100))
            self.ready_at = time.ticks_add(now(), 0 if data[0] == 0x2C else 16)
        elif cmd == 0xF32D:
            self.reply = self.words(cfg, (0x8010,))
            self.ready_at = now()
        elif cmd in (0x30A2, 0x3041):
            self.reply = None
        else:
            nack()

    def read(self, n, cfg):
        if self.reply is None or not ready(self.ready_at):
            nack()
        reply, self.reply = self.reply, None
        return reply[:n]


class SHT4x(SHT3x):
    """SHT40/41/45: one-byte commands, 0xFD/0xF6/0xE0 measure (high/medium/low precision, up to
    9 ms: the read NACKs until done), 0x89 serial number, 0x94 soft reset."""

    name = "sht4x"

    def write(self, data, cfg):
        cmd = data[0] if len(data) == 1 else None
        if cmd in (0xFD, 0xF6, 0xE0):
            self.reply = self.words(cfg, _sht_words(cfg, -6, 125))
            self.ready_at = time.ticks_add(now(), 9)
        elif cmd == 0x89:
            self.reply = self.words(cfg, (0x1234, 0x5678))
            self.ready_at = now()
        elif cmd == 0x94:
            self.reply = None
        else:
            nack()


class SCD4x(SHT3x):
    """SCD40/41: start_periodic_measurement 0x21B1 (a measurement every period_ms, default
    5000), get_data_ready_status 0xE4B8, read_measurement 0xEC05 (NACKs without new data),
    stop_periodic_measurement 0x3F86 (busy 500 ms), get_serial_number 0x3682, reinit 0x3646.
    In periodic mode only reading, the status and stop are accepted."""

    name = "scd4x"

    def __init__(self):
        super().__init__()
        self.started = None
        self.taken = 0
        self.idle_at = now()

    def periods(self, cfg):
        period = int(cfg.get("period_ms", 5000))
        return time.ticks_diff(now(), self.started) // period if self.started is not None else 0

    def write(self, data, cfg):
        if len(data) < 2 or not ready(self.idle_at):
            nack()
        cmd = (data[0] << 8) | data[1]
        periodic = self.started is not None
        self.reply = None
        self.ready_at = time.ticks_add(now(), 1)
        if cmd == 0x3F86:
            self.started = None
            self.idle_at = time.ticks_add(now(), 500)
        elif cmd == 0xE4B8:
            fresh = periodic and self.periods(cfg) > self.taken
            self.reply = self.words(cfg, (0x8006 if fresh else 0x8000,))
        elif cmd == 0xEC05:
            if periodic and self.periods(cfg) > self.taken:
                self.taken = self.periods(cfg)
                co2 = u16(float(cfg.get("co2", 400)))
                self.reply = self.words(cfg, (co2,) + _sht_words(cfg, 0, 100))
        elif periodic:
            nack()
        elif cmd == 0x21B1:
            self.started = now()
            self.taken = 0
        elif cmd == 0x3682:
            self.reply = self.words(cfg, (0xBEEF, 0x1234, 0x3B07))
        elif cmd != 0x3646:
            nack()
