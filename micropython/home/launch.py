# Running a configuration: the drivers it changes or removes stopped, its new ones started (at
# boot, for a new configuration, and for the one before when a new one does not fit). Imported
# for it, then dropped (home/rare.py); small, so that the drivers load with little else in the
# heap (home/configure.py, which stores and answers, and the checks are not in it).
import gc

from home import rare
from home.sensors import make, module, unload


def start(home, specs):
    """Make and start the drivers of specs that are not running yet. A driver that refuses its
    pin is logged and left out; out of memory, none after it is started: its id, else None."""
    from home.fields_table import FIELDS

    sensors = home.sensors
    new = [spec for spec in specs if spec["id"] not in sensors]
    fields = {}  # the types' `set` fields: the table is dropped before the drivers load
    for spec in new:
        kind = spec["type"]
        fields[kind] = FIELDS.get(kind)
    FIELDS = None
    rare.drop(("home.fields_table",))
    short = None
    for spec in new:  # the drivers' code first, while the heap has its largest free blocks
        try:
            module(spec["type"])
        except MemoryError:
            short = spec["id"]
            new = ()
            break
        except Exception:  # told below, where its driver is made
            pass
    for spec in new:
        sid = spec["id"]
        sensor = None
        gc.collect()  # each driver packed low in the heap, not after the last one's garbage
        try:
            sensor = make(home, spec)
            kind = fields[spec["type"]]
            if kind:
                type(sensor).fields = kind  # on its class: no room taken in each driver
            sensor.start()
            sensors[sid] = sensor
        except MemoryError:
            if sensor:
                sensor.stop()
            short = sid
            break
        except Exception as e:  # a driver refusing its pin: the rest run
            home.log("E", "home", "cannot start %s: %r" % (sid, e))
    sensor = None
    if short:
        home.log("E", "home", "cannot start %s: out of memory" % short)
    return short


def stop(home, cfg):
    """Stop the drivers whose spec cfg changes or removes, and drop the driver modules no type
    of cfg uses; the ids removed."""
    sensors = home.sensors
    wanted = {}
    for spec in cfg["sensors"]:
        wanted[spec["id"]] = spec
    removed = []
    for sid in list(sensors):
        sensor = sensors[sid]
        if wanted.get(sid) != sensor.spec:
            sensor.stop()
            del sensors[sid]
            if sid not in wanted:
                removed.append(sid)
    sensor = None
    unload([spec["type"] for spec in cfg["sensors"]])
    gc.collect()
    return removed


def run(home, cfg):
    """Run a new configuration, checked already: (the ids it removed, errors). Out of memory
    while its drivers start, it is refused and the configuration that ran before runs again."""
    removed = stop(home, cfg)
    short = start(home, cfg["sensors"])
    if not short:
        return removed, []
    undo(home)
    return (), ["sensors: out of memory starting %s" % short]


def undo(home):
    """Run the configuration that ran before a new one again (none in safe mode)."""
    old = [] if home.safe_mode else home.cfg["sensors"]
    stop(home, {"sensors": old})
    start(home, old)
