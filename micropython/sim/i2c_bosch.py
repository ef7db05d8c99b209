# Simulated Bosch BME280 and BMP280 for sim/i2c.py.
import time

from i2c import Chip, now, ready


# BME280 compensation parameters of a real part (0x88..0xA1 and 0xE1..0xE7)
_T = (27504, 26435, -1000)
_P = (36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
_H = (75, 370, 0, 297, 50, 30)


def _temperature(adc):
    """Bosch's floating-point compensation (datasheet 8.1): (degrees C, t_fine)."""
    v1 = (adc / 16384 - _T[0] / 1024) * _T[1]
    v2 = (adc / 131072 - _T[0] / 8192) ** 2 * _T[2]
    return (v1 + v2) / 5120, int(v1 + v2)


def _pressure(adc, t_fine):
    v1 = t_fine / 2 - 64000
    v2 = v1 * v1 * _P[5] / 32768 + v1 * _P[4] * 2
    v2 = v2 / 4 + _P[3] * 65536
    v1 = (_P[2] * v1 * v1 / 524288 + _P[1] * v1) / 524288
    v1 = (1 + v1 / 32768) * _P[0]
    p = (1048576 - adc - v2 / 4096) * 6250 / v1
    return p + (_P[8] * p * p / 2147483648 + p * _P[7] / 32768 + _P[6]) / 16


def _humidity(adc, t_fine):
    h = t_fine - 76800
    h = (adc - (_H[3] * 64 + _H[4] / 16384 * h)) * (
        _H[1] / 65536 * (1 + _H[5] / 67108864 * h * (1 + _H[2] / 67108864 * h))
    )
    return h * (1 - _H[0] * h / 524288)


def _invert(f, want, bits, rising=True):
    """The raw reading of `bits` bits for which the monotonic f gives `want`."""
    low, high = 0, (1 << bits) - 1
    while low < high:
        mid = (low + high) // 2
        if (f(mid) < want) == rising:
            low = mid + 1
        else:
            high = mid
    return low


class BME280(Chip):
    """BME280 (chip id 0x60) or BMP280 (0x58, no humidity): registers with the compensation
    parameters, ctrl_hum 0xF2 (effective at the next ctrl_meas write, as on the chip), status
    0xF3 (bit 3 measuring, 10 ms), ctrl_meas 0xF4 (forced mode measures once and sleeps), reset
    0xE0 <- 0xB6, data 0xF7..0xFE with raw values found by inverting Bosch's compensation."""

    def __init__(self, bmp280=False):
        super().__init__()
        self.name = "bmp280" if bmp280 else "bme280"
        self.regs = bytearray(256)
        self.pointer = 0
        self.busy_until = now()
        self.osrs_h = 0
        r = self.regs
        r[0xD0] = 0x58 if bmp280 else 0x60
        i = 0x88
        for value in _T + _P:
            r[i] = value & 0xFF
            r[i + 1] = (value >> 8) & 0xFF
            i += 2
        if not bmp280:
            r[0xA1] = _H[0]
            r[0xE1] = _H[1] & 0xFF
            r[0xE2] = (_H[1] >> 8) & 0xFF
            r[0xE3] = _H[2]
            r[0xE4] = (_H[3] >> 4) & 0xFF
            r[0xE5] = (_H[3] & 0xF) | ((_H[4] & 0xF) << 4)
            r[0xE6] = (_H[4] >> 4) & 0xFF
            r[0xE7] = _H[5] & 0xFF
        self.skipped()

    def skipped(self):
        self.regs[0xF7:0xFF] = b"\x80\x00\x00\x80\x00\x00\x80\x00"

    def write(self, data, cfg):
        if len(data) == 1:
            self.pointer = data[0]
        for i in range(0, len(data) - 1, 2):
            reg, value = data[i], data[i + 1]
            if reg == 0xE0 and value == 0xB6:
                self.regs[0xF2:0xF6] = bytes(4)
                self.skipped()
            elif reg == 0xF2 and self.name == "bme280":
                self.regs[reg] = value & 0x07
            elif reg in (0xF4, 0xF5):
                self.regs[reg] = value
                if reg == 0xF4:
                    self.osrs_h = self.regs[0xF2] & 0x07
                    if value & 0x03:
                        self.measure(cfg)

    def measure(self, cfg):
        r = self.regs
        self.skipped()
        ctrl = r[0xF4]
        adc_t = _invert(lambda a: _temperature(a)[0], float(cfg.get("temperature", 0)), 20)
        t_fine = _temperature(adc_t)[1]
        if ctrl >> 5:
            r[0xFA:0xFD] = bytes((adc_t >> 12, (adc_t >> 4) & 0xFF, (adc_t & 0xF) << 4))
        if (ctrl >> 2) & 0x07:
            pa = float(cfg.get("pressure", 1013.25)) * 100
            adc_p = _invert(lambda a: _pressure(a, t_fine), pa, 20, False)
            r[0xF7:0xFA] = bytes((adc_p >> 12, (adc_p >> 4) & 0xFF, (adc_p & 0xF) << 4))
        if self.name == "bme280" and self.osrs_h:
            adc_h = _invert(lambda a: _humidity(a, t_fine), float(cfg.get("humidity", 0)), 16)
            r[0xFD:0xFF] = bytes((adc_h >> 8, adc_h & 0xFF))
        self.busy_until = time.ticks_add(now(), 10)
        if ctrl & 0x03 != 0x03:
            r[0xF4] = ctrl & 0xFC  # forced mode: back to sleep

    def read(self, n, cfg):
        if self.regs[0xF4] & 0x03 == 0x03 and ready(self.busy_until):
            self.measure(cfg)  # normal mode: always a fresh measurement
        self.regs[0xF3] = 0 if ready(self.busy_until) else 0x08
        out = bytes(self.regs[self.pointer : self.pointer + n])
        self.pointer = (self.pointer + n) & 0xFF
        return out
