# Runs on MicroPython: the heap one driver module costs when imported, and one peripheral of its
# type. micropython mp_heap.py MODULE [SPEC_JSON]   (MICROPYPATH: the installed firmware and
# the simulated hardware, compiled). What a running node has loaded anyway (asyncio, machine,
# home.board, home.log, home.sensors and the simulated buses, which a board has in ROM) is
# loaded first, and the modules it imports are counted with it unless given before it as
# "+a,b:MODULE".
# Prints one JSON line: {"module", "import", "instance", "another"} (bytes, gc.mem_alloc after
# a collection; "another": a second peripheral of the type, on the same bus if it has one).
import asyncio  # noqa: F401
import gc
import json
import sys

import ds18x20  # noqa: F401
import home.board
import home.sensors
import i2c  # noqa: F401
import machine
import onewire  # noqa: F401
from home.log import Log


class Home:
    def __init__(self):
        self.log = Log()

    async def publish_state(self, sid, state):
        pass


machine.I2C  # noqa: B018  (loads sim/buses.py, which a board has in ROM)


def alloc():
    gc.collect()
    return gc.mem_alloc()


name = sys.argv[1]
if ":" in name:
    before, name = name.split(":")
    for other in before.lstrip("+").split(","):
        __import__(other)
home = Home()
start = alloc()
module = __import__(name, None, None, ("make",))
imported = alloc() - start
figures = {"module": name, "import": imported, "instance": None, "another": None}
if len(sys.argv) > 2:
    spec = json.loads(sys.argv[2])
    # home.filter: the spec is a peripheral's `filters`, made into the Home its driver sees
    make = getattr(module, "make", None) or module.Filtered
    start = alloc()
    sensor = make(home, spec)
    figures["instance"] = alloc() - start
    spec = dict(spec)
    if "id" in spec:
        spec["id"] = "y"
    start = alloc()
    other = make(home, spec)
    figures["another"] = alloc() - start
print(json.dumps(figures))
