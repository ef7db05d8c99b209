# BME280 temperature, humidity and pressure (or BMP280: no humidity, told by its chip id) on
# I2C, in forced mode, with Bosch's integer compensation.
# spec: {"id", "type": "bme280", "bus": {"sda", "scl", "freq"} (or "sda"/"scl"/"freq"),
#        "address": int = 0x76 (0x77 with SDO high), "interval": s}
# state: {"temperature": C, "humidity": % (BME280 only), "pressure": hPa} or {"error": str}
import asyncio
from micropython import const

from home import bus

_ID = const(0xD0)
_CALIB = const(0x88)  # T1..P9, then H1 at 0xA1
_CALIB_H = const(0xE1)
_CTRL_HUM = const(0xF2)
_STATUS = const(0xF3)
_CTRL_MEAS = const(0xF4)
_DATA = const(0xF7)
_MEASURING = const(0x08)
_BME280 = const(0x60)
_BMP280 = const(0x58)
_HUM_X1 = b"\x01"
_FORCED_X1 = b"\x25"  # temperature x1, pressure x1, forced mode


def _u16(b, i):
    return b[i] | (b[i + 1] << 8)


def _s16(b, i):
    v = _u16(b, i)
    return v - 65536 if v & 0x8000 else v


def _s12(v):
    return v - 4096 if v & 0x800 else v


class BME280(bus.I2CSensor):
    kind = "bme280"
    address = 0x76

    size = 26  # the calibration block; head: the 8 data registers
    short = 8
    cal = None  # (T1..T3, P1..P9, H1..H6 or None), read once

    def __init__(self, home, spec):
        super().__init__(home, spec)
        self.one = memoryview(self.buf)[:1]

    def calibrate(self):
        b = self.buf
        self.bus.read_reg(self.addr, _ID, self.one)
        chip = b[0]
        if chip not in (_BME280, _BMP280):
            raise OSError(19)  # something else answers at this address
        self.bus.read_reg(self.addr, _CALIB, b)
        t = (_u16(b, 0), _s16(b, 2), _s16(b, 4))
        p = (_u16(b, 6),) + tuple(_s16(b, i) for i in range(8, 24, 2))
        h = None
        if chip == _BME280:
            h1 = b[25]
            self.bus.read_reg(self.addr, _CALIB_H, memoryview(b)[:7])
            h4 = _s12((b[3] << 4) | (b[4] & 0x0F))
            h5 = _s12((b[5] << 4) | (b[4] >> 4))
            h = (h1, _s16(b, 0), b[2], h4, h5, b[6] - 256 if b[6] & 0x80 else b[6])
        self.cal = (t, p, h)

    async def measure(self):
        if self.cal is None:
            self.calibrate()
        t, p, h = self.cal
        if h:
            self.bus.write_reg(self.addr, _CTRL_HUM, _HUM_X1)  # effective at the ctrl_meas write
        self.bus.write_reg(self.addr, _CTRL_MEAS, _FORCED_X1)
        await asyncio.sleep_ms(10)
        for _ in range(10):
            self.bus.read_reg(self.addr, _STATUS, self.one)
            if not self.buf[0] & _MEASURING:
                break
            await asyncio.sleep_ms(5)
        b = self.buf
        self.bus.read_reg(self.addr, _DATA, self.head)
        adc_p = (b[0] << 12) | (b[1] << 4) | (b[2] >> 4)
        adc_t = (b[3] << 12) | (b[4] << 4) | (b[5] >> 4)
        adc_h = (b[6] << 8) | b[7]
        # Bosch's integer compensation (BME280 datasheet 4.2.3 / 8.2)
        v1 = (((adc_t >> 3) - (t[0] << 1)) * t[1]) >> 11
        v2 = (((((adc_t >> 4) - t[0]) * ((adc_t >> 4) - t[0])) >> 12) * t[2]) >> 14
        t_fine = v1 + v2
        state = {"temperature": round(((t_fine * 5 + 128) >> 8) / 100, 2)}
        v1 = t_fine - 128000
        v2 = v1 * v1 * p[5] + ((v1 * p[4]) << 17) + (p[3] << 35)
        v1 = ((v1 * v1 * p[2]) >> 8) + ((v1 * p[1]) << 12)
        v1 = (((1 << 47) + v1) * p[0]) >> 33
        if v1:
            pa = 1048576 - adc_p
            pa = (((pa << 31) - v2) * 3125) // v1
            v1 = (p[8] * (pa >> 13) * (pa >> 13)) >> 25
            v2 = (p[7] * pa) >> 19
            pa = ((pa + v1 + v2) >> 8) + (p[6] << 4)  # Pa in Q24.8
            state["pressure"] = round(pa / 25600, 2)
        if h:
            x = t_fine - 76800
            scale = (((x * h[5]) >> 10) * (((x * h[2]) >> 11) + 32768)) >> 10
            x = ((((adc_h << 14) - (h[3] << 20) - (h[4] * x)) + 16384) >> 15) * (
                ((scale + 2097152) * h[1] + 8192) >> 14
            )
            x -= ((((x >> 15) * (x >> 15)) >> 7) * h[0]) >> 4
            x = min(max(x, 0), 419430400)
            state["humidity"] = round((x >> 12) / 1024, 2)
        return state


make = BME280
