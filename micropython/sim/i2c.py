# Simulated I2C for the unix port: machine.I2C / SoftI2C return a Bus of this module. The chips
# are register-level models configured in hw.json under "i2c", keyed by the bus's "SDA,SCL" pins
# and each device's address:
#   {"i2c": {"4,5": {"0x38": {"chip": "aht20", "temperature": 21.5, "humidity": 40}}}}
# Faults: a device that is missing or says "absent": true NACKs (OSError EIO on rp2, ENODEV on
# esp32, as the boards raise); "bad_crc": N corrupts the CRC of its next N replies (true: all);
# a bus with "stuck": TOKEN has SDA held low: every transfer fails with ETIMEDOUT until SCL is
# clocked 9 times through machine.Pin, which releases it (for that TOKEN; a new one hangs again).
import errno
import time

import machine

NACK = errno.EIO if machine.SIM_PLATFORM == "rp2" else errno.ENODEV
_RELEASE_CLOCKS = 9
_chips = {}  # (bus key, address) -> chip model, kept across Bus objects (a re-init)
_released = set()  # (bus key, stuck token) released by clocking SCL
_clocks = {}  # bus key -> SCL falling edges seen while stuck


def _now():
    return time.ticks_ms()


def _ready(at):
    return time.ticks_diff(_now(), at) >= 0


def _nack():
    raise OSError(NACK)


def _crc(data):
    """Sensirion / Aosong CRC-8: polynomial 0x31, initial 0xFF."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc << 1) ^ 0x31 if crc & 0x80 else crc << 1
        crc &= 0xFF
    return crc


def _u16(value):
    return min(max(int(value + 0.5), 0), 0xFFFF)


class Chip:
    name = ""

    def __init__(self):
        self.replies = 0

    def corrupt(self, cfg):
        """Whether this reply's CRC is to be wrong (hw.json "bad_crc")."""
        bad = cfg.get("bad_crc")
        self.replies += 1
        return bad is True or (type(bad) is int and self.replies <= bad)

    def words(self, cfg, words):
        """Big-endian 16-bit words, each followed by its CRC (the first made wrong on demand)."""
        out = bytearray()
        for word in words:
            pair = bytes(((word >> 8) & 0xFF, word & 0xFF))
            out += pair
            out.append(_crc(pair))
        if self.corrupt(cfg):
            out[2] ^= 0xFF
        return bytes(out)


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
            self.busy_until = time.ticks_add(_now(), 80)

    def read(self, n, cfg):
        busy = self.busy_until is not None and not _ready(self.busy_until)
        calibrated = self.calibrated or cfg.get("calibrated") is True
        out = bytearray(((0x90 if busy else 0x10) | (0x08 if calibrated else 0),))
        out += bytes(5) if busy else self.data
        if self.name == "aht20" and n > 6:
            crc = _crc(out)
            out.append(crc ^ 0xFF if self.corrupt(cfg) else crc)
        return bytes(out[:n])


def _sht_words(cfg, rh_offset, rh_span):
    t = (float(cfg.get("temperature", 0)) + 45) * 65535 / 175
    rh = (float(cfg.get("humidity", 0)) - rh_offset) * 65535 / rh_span
    return (_u16(t), _u16(rh))


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
            _nack()
        cmd = (data[0] << 8) | data[1]
        if cmd in (0x2400, 0x240B, 0x2416, 0x2C06, 0x2C0D, 0x2C10):
            self.reply = self.words(cfg, _sht_words(cfg, 0, 100))
            self.ready_at = time.ticks_add(_now(), 0 if data[0] == 0x2C else 16)
        elif cmd == 0xF32D:
            self.reply = self.words(cfg, (0x8010,))
            self.ready_at = _now()
        elif cmd in (0x30A2, 0x3041):
            self.reply = None
        else:
            _nack()

    def read(self, n, cfg):
        if self.reply is None or not _ready(self.ready_at):
            _nack()
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
            self.ready_at = time.ticks_add(_now(), 9)
        elif cmd == 0x89:
            self.reply = self.words(cfg, (0x1234, 0x5678))
            self.ready_at = _now()
        elif cmd == 0x94:
            self.reply = None
        else:
            _nack()


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
        self.idle_at = _now()

    def periods(self, cfg):
        period = int(cfg.get("period_ms", 5000))
        return time.ticks_diff(_now(), self.started) // period if self.started is not None else 0

    def write(self, data, cfg):
        if len(data) < 2 or not _ready(self.idle_at):
            _nack()
        cmd = (data[0] << 8) | data[1]
        periodic = self.started is not None
        self.reply = None
        self.ready_at = time.ticks_add(_now(), 1)
        if cmd == 0x3F86:
            self.started = None
            self.idle_at = time.ticks_add(_now(), 500)
        elif cmd == 0xE4B8:
            fresh = periodic and self.periods(cfg) > self.taken
            self.reply = self.words(cfg, (0x8006 if fresh else 0x8000,))
        elif cmd == 0xEC05:
            if periodic and self.periods(cfg) > self.taken:
                self.taken = self.periods(cfg)
                co2 = _u16(float(cfg.get("co2", 400)))
                self.reply = self.words(cfg, (co2,) + _sht_words(cfg, 0, 100))
        elif periodic:
            _nack()
        elif cmd == 0x21B1:
            self.started = _now()
            self.taken = 0
        elif cmd == 0x3682:
            self.reply = self.words(cfg, (0xBEEF, 0x1234, 0x3B07))
        elif cmd != 0x3646:
            _nack()


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
        self.busy_until = _now()
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
        self.busy_until = time.ticks_add(_now(), 10)
        if ctrl & 0x03 != 0x03:
            r[0xF4] = ctrl & 0xFC  # forced mode: back to sleep

    def read(self, n, cfg):
        if self.regs[0xF4] & 0x03 == 0x03 and _ready(self.busy_until):
            self.measure(cfg)  # normal mode: always a fresh measurement
        self.regs[0xF3] = 0 if _ready(self.busy_until) else 0x08
        out = bytes(self.regs[self.pointer : self.pointer + n])
        self.pointer = (self.pointer + n) & 0xFF
        return out


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
                self.ready_at = time.ticks_add(_now(), ms * self.mt // 69)
            elif op & 0xF8 == 0x40:
                self.mt = (self.mt & 0x1F) | ((op & 0x07) << 5)
            elif op & 0xE0 == 0x60:
                self.mt = (self.mt & 0xE0) | (op & 0x1F)
            else:
                _nack()

    def read(self, n, cfg):
        if self.mode is not None and self.ready_at is not None and _ready(self.ready_at):
            counts = float(cfg.get("illuminance", 0)) * 1.2 * self.mt / 69
            self.raw = _u16(counts * 2 if self.mode & 0x03 == 0x01 else counts)
            if self.mode & 0x20:  # one-time: one result, then power down
                self.on = False
                self.ready_at = None
        return bytes((self.raw >> 8, self.raw & 0xFF))[:n]


_MODELS = {
    "aht20": AHT,
    "aht10": lambda: AHT(True),
    "sht3x": SHT3x,
    "sht4x": SHT4x,
    "scd4x": SCD4x,
    "bme280": BME280,
    "bmp280": lambda: BME280(True),
    "bh1750": BH1750,
}


def _name(pin):
    return pin.name if isinstance(pin, machine.Pin) else str(pin)


class Bus:
    """machine.I2C on simulated chips: scan, readfrom(_into), writeto, writevto, readfrom_mem
    (_into), writeto_mem."""

    def __init__(self, scl, sda, freq):
        self.scl = _name(scl)
        self.sda = _name(sda)
        self.key = self.sda + "," + self.scl
        self.freq = freq
        self.last_scl = 1
        machine._bus_pins[self.sda] = self
        machine._bus_pins[self.scl] = self

    def entry(self):
        buses = machine.hw().get("i2c")
        entry = buses.get(self.key) if type(buses) is dict else None
        return entry if type(entry) is dict else {}

    def stuck(self, entry=None):
        token = (entry or self.entry()).get("stuck")
        return bool(token) and (self.key, token) not in _released

    # the pins, as machine.Pin sees them while a driver recovers the bus
    def level(self, name):
        return 0 if name == self.sda and self.stuck() else 1

    def drive(self, name, v):
        if name != self.scl:
            return
        if self.last_scl and not v and self.stuck():
            _clocks[self.key] = _clocks.get(self.key, 0) + 1
            if _clocks[self.key] >= _RELEASE_CLOCKS:
                _released.add((self.key, self.entry().get("stuck")))
                _clocks[self.key] = 0
        self.last_scl = v

    def chip(self, addr):
        entry = self.entry()
        if self.stuck(entry):
            raise OSError(errno.ETIMEDOUT)
        cfg = entry.get("0x%02x" % addr)
        if type(cfg) is not dict or cfg.get("absent") or cfg.get("chip") not in _MODELS:
            _nack()
        chip = _chips.get((self.key, addr))
        if chip is None or chip.name != cfg["chip"]:
            chip = _chips[(self.key, addr)] = _MODELS[cfg["chip"]]()
        return chip, cfg

    def scan(self):
        entry = self.entry()
        if self.stuck(entry):
            raise OSError(errno.ETIMEDOUT)
        found = []
        for key, cfg in entry.items():
            if key.startswith("0x") and type(cfg) is dict and not cfg.get("absent"):
                found.append(int(key, 16))
        return sorted(found)

    def writeto(self, addr, buf, stop=True):
        chip, cfg = self.chip(addr)
        chip.write(bytes(buf), cfg)
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        return self.writeto(addr, b"".join(bytes(b) for b in vector), stop)

    def readfrom(self, addr, n, stop=True):
        chip, cfg = self.chip(addr)
        data = chip.read(n, cfg)
        return data + b"\xff" * (n - len(data))  # past the chip's reply the bus reads high

    def readfrom_into(self, addr, buf, stop=True):
        buf[:] = self.readfrom(addr, len(buf), stop)

    def readfrom_mem(self, addr, memaddr, n, addrsize=8):
        self.writeto(addr, bytes((memaddr,)), False)
        return self.readfrom(addr, n)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        buf[:] = self.readfrom_mem(addr, memaddr, len(buf), addrsize)

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        self.writeto(addr, bytes((memaddr,)) + bytes(buf))
