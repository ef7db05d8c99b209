# A new configuration (`config/set`), once checked: run and stored (Home answers it);
# and the stored one at boot. Imported for each, then dropped (home/rare.py); the checks are
# loaded and dropped before it (home/config.py), so the two are never in the heap together.
import gc
import json

from home import store
from home.fields_table import FIELDS
from home.log import LEVELS
from home.sensors import make, unload


def load(home, stored, errors):
    """At boot: run the stored configuration, checked already (in safe mode: only report it)."""
    if errors:
        home.log("E", "home", "stored config refused: %s" % "; ".join(errors))
    elif home.safe_mode:
        home.cfg = stored  # reported, not run: no peripheral is started
    else:
        apply(home, stored)
        home.log("I", "home", "config version %d loaded" % stored["version"])


def apply(home, cfg):
    """Run cfg (already validated): peripherals created, changed and removed, drivers no type
    uses any more dropped. The ids removed."""
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
    for spec in cfg["sensors"]:
        if spec["id"] not in sensors:
            try:
                sensor = make(home, spec)
                fields = FIELDS.get(spec["type"])
                if fields:
                    sensor.fields = fields
                sensor.start()
                sensors[spec["id"]] = sensor
            except Exception as e:  # a driver refusing its pin: keep the rest running
                home.log("E", "home", "cannot start %s: %r" % (spec["id"], e))
    home.log.level = LEVELS.find(cfg["log_level"])
    home.cfg = cfg
    return removed


def answer(home, msg, data, errors):
    """A signed config/set, checked already (Home.on_config): run and stored when it is good.
    (config/state's body, the ids removed), for Home to publish once this module is dropped."""
    version = data.get("version")
    if type(version) is not int:
        version = home.cfg["version"]
    removed = ()
    if errors:
        home.log("W", "home", "config %s refused: %s" % (version, "; ".join(errors)))
    else:
        if home.safe_mode:
            home.safe_mode = None
            home.early = 0
            store.write("early", "0")
            home.log("I", "home", "safe mode left")
        removed = apply(home, data)
        store.write_json("config.json", data)
        home.log("I", "home", "config version %d applied" % version)
    home.last_sig = bytes(msg[:64])
    store.write("sig", home.last_sig.decode())
    return json.dumps({"version": version, "ok": not errors, "errors": errors}), removed
