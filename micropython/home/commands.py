# The commands a node gets rarely (identify, reboot, ota, scan), imported for one and dropped
# after it (home/rare.py); `set` and `announce` are the node's own (home/node.py).
import asyncio
import gc
import machine

from home import store

# field -> type, in the order they are checked
_FIELDS = (
    ("version", str),
    ("host", str),
    ("port", int),
    ("user", str),
    ("password", str),
    ("path", str),
    ("manifest_sha256", str),
)


def run(home, cmd):
    """Carry out one of them; an error string for `reply`, a scan's findings, or None."""
    name = cmd["cmd"]
    if name == "identify":
        seconds = cmd.get("seconds", 10)
        if type(seconds) is not int or not 1 <= seconds <= 300:
            return "bad value: seconds"
        home.status_led.identify(seconds)
    elif name == "reboot":
        asyncio.create_task(reboot(home))
    elif name == "ota":
        error = _ota(home, cmd)
        if error:
            return error
        asyncio.create_task(_restart_for_update(home))
    else:
        from home.scan import scan

        return scan(home, cmd)
    return None


def _ota(home, cmd):
    """Check an `ota` command; an error for `reply`, or None when it is accepted (stored for
    the updater, which the node then restarts into)."""
    for name, kind in _FIELDS:
        if type(cmd.get(name)) is not kind:
            return "bad value: " + name
    if not 0 < cmd["port"] < 65536:
        return "bad value: port"
    if len(cmd["manifest_sha256"]) != 64:
        return "bad value: manifest_sha256"
    if home.updating():
        return "busy"
    store.write_json("ota_cmd", {name: cmd[name] for name, _ in _FIELDS})
    store.write("ota_target", cmd["version"])  # reported at the next boot if the update ends early
    home.ota = ["downloading", cmd["version"], 0, None]
    return None


async def _restart_for_update(home):
    home.log("I", "update", "update to %s: restarting into the updater" % home.ota[1])
    try:
        await home.publish_ota()
    except MemoryError:  # the updater reports its progress from the start
        pass
    await reboot(home)


async def reboot(home):
    """Reset, after telling the broker; out of memory on the way, it resets all the same
    (the broker then publishes the will)."""
    home.log("I", "home", "rebooting")
    try:
        await asyncio.sleep_ms(500)
        await home.mqtt.publish("status", b"offline", True, 0)
        await asyncio.sleep_ms(50)
    except MemoryError:
        pass
    for _ in range(3):
        try:
            home.keep_n()
            store.write("early", "p")  # a planned reset: the next boot is a normal one
            break
        except MemoryError:
            gc.collect()
    machine.reset()
