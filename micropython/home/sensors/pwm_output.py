# A PWM output (a pump, a fan, a heater through a MOSFET): the duty cycle in %, applied at once.
# spec: {"id", "type": "pwm_output", "pin": int, "freq": Hz, "duty": % = 0 (at start)}
# set: {"duty": 0..100}
# state: {"duty": %}
from machine import PWM, Pin

from home.sensors import Driver


def _u16(duty):
    return int(min(max(duty, 0), 100) * 65535 / 100 + 0.5)


class PWMOutput(Driver):
    kind = "pwm_output"

    def __init__(self, home, spec):
        super().__init__(home, spec)
        self.duty = spec.get("duty") or 0
        self.pwm = PWM(Pin(spec["pin"]), freq=spec["freq"], duty_u16=_u16(self.duty))
        self.state = {"duty": self.duty}

    def stop(self):
        self.pwm.duty_u16(0)
        self.pwm.deinit()

    async def set(self, cmd):
        duty = cmd.get("duty")
        if duty is not None:
            self.duty = min(max(duty, 0), 100)
            self.pwm.duty_u16(_u16(self.duty))
        self.state = {"duty": self.duty}
        await self.home.publish_state(self.id, self.state)


make = PWMOutput
