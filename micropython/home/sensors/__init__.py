# Sensors: one class per type, each with `spec`, `state`, start() and stop().
# All are imported at boot, while the heap is still in one piece.
from home.sensors.dht22 import DHT22Sensor
from home.sensors.led import LED
from home.sensors.motion import Motion

_CLASSES = {"dht22": DHT22Sensor, "motion": Motion, "led": LED}


def make(home, spec):
    if spec["type"] == "status_led":
        return home.status_led.attach(spec)
    return _CLASSES[spec["type"]](home, spec)
