# Runs on MicroPython: heap cost of the catalogue table and of the drivers, loaded on demand.
# micropython mp_drivers.py  (MICROPYPATH: micropython/ and micropython/sim)
# Prints one JSON line of heap figures (bytes, gc.mem_alloc after a collection).
import asyncio
import gc
import json
import sys


def alloc():
    gc.collect()
    return gc.mem_alloc()


import home  # noqa: E402  (the package, so that the table is measured alone)

figures = {}
start = alloc()
import home.catalogue  # noqa: E402, F401

figures["table"] = alloc() - start
from home import sensors  # noqa: E402
from home.config import validate  # noqa: E402
from home.sensors.status_led import StatusLED  # noqa: E402


class Log:
    def src(self, name):
        return lambda lvl, msg: None


class Home:
    def __init__(self):
        self.log = Log()
        self.status_led = StatusLED(self)

    async def publish_state(self, sid, state):
        pass


def drivers():
    return sorted(n for n in sys.modules if n.startswith("home.sensors."))


ALL = [
    {"id": "climate", "type": "dht22", "pin": 15, "interval": 30},
    {"id": "pir", "type": "motion", "pin": 16, "off_delay": 30},
    {"id": "lamp", "type": "led", "pin": 14, "freq": 1000},
    {"id": "status", "type": "status_led", "pin": "LED"},
]


def body(specs):
    return {
        "n": 1,
        "version": 1,
        "name": "x",
        "telemetry_interval": 60,
        "log_level": "I",
        "sensors": [dict(s) for s in specs],
    }


async def main():
    home = Home()
    running = {}
    peak = 0

    def apply(specs):
        nonlocal peak
        cfg = body(specs)
        assert validate(cfg) == []
        for sid in list(running):
            running.pop(sid).stop()
        sensors.unload([s["type"] for s in cfg["sensors"]])
        for spec in cfg["sensors"]:
            running[spec["id"]] = sensors.make(home, spec)
        now = alloc()
        peak = max(peak, now)
        return now

    figures["boot"] = alloc()
    figures["boot_drivers"] = drivers()
    figures["status_only"] = apply(ALL[3:])
    figures["all"] = apply(ALL)
    figures["all_drivers"] = drivers()
    figures["removed_first"] = apply(ALL[3:])
    for _ in range(5):  # add and remove the drivers again and again
        apply(ALL)
        apply(ALL[3:])
    figures["removed"] = apply(ALL[3:])
    figures["removed_drivers"] = drivers()
    figures["peak"] = peak
    figures["mem_free"] = gc.mem_free()


asyncio.run(main())
print(json.dumps(figures))
