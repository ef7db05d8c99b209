# The commands a node gets rarely (identify, reboot, ota, scan), imported for one and dropped
# after it (home/rare.py); `set` and `announce` are the node's own (home/node.py).
import asyncio
import machine

from home import store


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
        from home.update import command

        error = command(home, cmd)
        if error:
            return error
        asyncio.create_task(_restart_for_update(home))
    else:
        from home.scan import scan

        return scan(home, cmd)
    return None


async def _restart_for_update(home):
    home.log("I", "update", "update to %s: restarting into the updater" % home.ota[1])
    await home.publish_ota()
    await reboot(home)


async def reboot(home):
    home.log("I", "home", "rebooting")
    await asyncio.sleep_ms(500)
    await home.mqtt.publish("status", b"offline", True, 0)
    await asyncio.sleep_ms(50)
    home.keep_n()
    store.write("early", "p")  # a planned reset: the next boot is a normal one
    machine.reset()
