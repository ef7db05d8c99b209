# machine.ADC, machine.I2C and machine.SoftI2C for the unix port (machine.py's __getattr__
# finds them here). ADC: read_u16() from hw.json's "adc": {"26": 32768} (0 when the pin has no
# entry). I2C: a Bus of sim/i2c.py.
import machine


class ADC:
    def __init__(self, pin, atten=None):
        self.name = pin.name if isinstance(pin, machine.Pin) else str(pin)

    def read_u16(self):
        values = machine.hw("adc")
        value = values.get(self.name) if type(values) is dict else None
        return min(max(int(value or 0), 0), 65535)


def I2C(id=-1, scl=None, sda=None, freq=400000, timeout=50000):
    from i2c import Bus

    return Bus(scl, sda, freq)


def SoftI2C(scl, sda, freq=400000, timeout=50000):
    return I2C(-1, scl, sda, freq)
