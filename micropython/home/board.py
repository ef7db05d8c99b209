# What board this is: platform, pins, identity, reset cause.
import sys

import machine

# The simulator's machine module says which board it stands in for.
PLATFORM = getattr(machine, "SIM_PLATFORM", None) or sys.platform
BOARD = getattr(machine, "SIM_BOARD", None) or sys.implementation._machine
MPY = "%d.%d.%d" % sys.implementation.version[:3]

_FLASH_BUS = (6, 7, 8, 9, 10, 11, 20, 24, 28, 29, 30, 31)
_CAUSES = (
    ("PWRON_RESET", "power_on"),
    ("HARD_RESET", "hard"),
    ("WDT_RESET", "wdt"),
    ("DEEPSLEEP_RESET", "deepsleep"),
    ("SOFT_RESET", "soft"),
)


def pin_error(kind, pin):
    """Why `pin` cannot serve a sensor of type `kind` on this platform, or None."""
    if pin == "LED":
        return None if PLATFORM in ("rp2", "unix") else '"LED" is not a pin on ' + PLATFORM
    if type(pin) is not int:
        return '%r is not a GPIO number or "LED"' % (pin,)
    if PLATFORM == "rp2":
        return None if 0 <= pin <= 22 or 26 <= pin <= 28 else "%d is not a usable pin on rp2" % pin
    if not 0 <= pin <= 39 or pin in _FLASH_BUS:
        return "%d is not a usable pin on %s" % (pin, PLATFORM)
    if pin >= 34 and kind != "motion":
        return "%d is input-only, a %s needs an output" % (pin, kind)
    return None


def default_status_pin():
    return "LED" if PLATFORM in ("rp2", "unix") else None


def unique_hex():
    from binascii import hexlify

    return hexlify(machine.unique_id()).decode()


def default_node_id():
    return "mh-" + unique_hex()[-6:]


def reset_cause():
    cause = machine.reset_cause()
    for name, text in _CAUSES:
        if getattr(machine, name, None) == cause:
            return text
    return str(cause)


def flash_free():
    """Free bytes on the flash file system; the simulator's hw.json may say less (flash_free)."""
    hw = getattr(machine, "hw", None)
    if hw:
        limit = hw().get("flash_free")
        if type(limit) is int:
            return limit
    from os import statvfs

    st = statvfs(".")
    return st[0] * st[3]
