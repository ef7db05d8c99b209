# A configuration, once checked and run (home/launch.py): a new one (`config/set`) stored and
# answered, the stored one loaded at boot. Imported for it, then dropped (home/rare.py): its
# code is not in the heap while the drivers load.
from home import store
from home.log import LEVELS


def load(home, stored, errors):
    """At boot: whether to run the stored configuration, checked already (not in safe mode,
    where it is only reported)."""
    if errors:
        home.log("E", "home", "stored config refused: %s" % "; ".join(errors))
        return False
    home.cfg = stored
    if home.safe_mode:
        return False
    home.log.level = LEVELS.find(stored["log_level"])
    home.log("I", "home", "config version %d loaded" % stored["version"])
    return True


def answer(home, msg, data, errors):
    """A signed config/set, checked and run already (Home.on_config): stored when it is good
    (the Home's configuration once it is stored). config/state's body, for Home to publish
    once this module is dropped."""
    version = data.get("version")
    if type(version) is not int:
        version = home.cfg["version"]
    if errors:
        home.log("W", "home", "config %s refused: %s" % (version, "; ".join(errors)))
    else:
        store.write_json("config.json", data)
        if home.safe_mode:
            home.safe_mode = None
            home.early = 0
            store.write("early", "0")
            home.log("I", "home", "safe mode left")
        home.log.level = LEVELS.find(data["log_level"])
        home.cfg = data
        home.log("I", "home", "config version %d applied" % version)
    home.last_sig = bytes(msg[:64])
    store.write("sig", home.last_sig.decode())
    return {"version": version, "ok": not errors, "errors": errors}
