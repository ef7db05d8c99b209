# An analog input: the voltage on an ADC pin (mean of 8 samples), or a user quantity through a
# two-point calibration (two voltages and the values they stand for).
# spec: {"id", "type": "adc", "pin": int, "interval": s, "vref": V = 3.3,
#        "volts1", "value1", "volts2", "value2": numbers (optional, all four or none;
#        volts1 != volts2): volts1 stands for value1 and volts2 for value2, linearly}
# state: {"voltage": V} or, calibrated, {"voltage": V, "value": number}
from machine import ADC, Pin
from micropython import const

from home.poll import Polled

_SAMPLES = const(8)


class Analog(Polled):
    kind = "adc"

    def __init__(self, home, spec):
        super().__init__(home, spec)
        atten = getattr(ADC, "ATTN_11DB", None)  # esp32: the full 0..3.3 V range
        pin = Pin(spec["pin"])
        self.adc = ADC(pin) if atten is None else ADC(pin, atten=atten)
        self.scale = (spec.get("vref") or 3.3) / 65535 / _SAMPLES
        self.volts1 = spec.get("volts1")
        self.value1 = spec.get("value1")
        if self.volts1 is not None:
            self.slope = (spec["value2"] - self.value1) / (spec["volts2"] - self.volts1)

    async def measure(self):
        total = 0
        for _ in range(_SAMPLES):
            total += self.adc.read_u16()
        volts = total * self.scale
        state = {"voltage": round(volts, 3)}
        if self.volts1 is not None:
            state["value"] = round(self.value1 + (volts - self.volts1) * self.slope, 3)
        return state


make = Analog
