# What board this is: its name, pins, identity, reset cause (the platform: home.PLATFORM).
# Loaded for the boot and an update, not kept.
import sys

import machine

from home import PLATFORM

BOARD = getattr(machine, "SIM_BOARD", None) or sys.implementation._machine
MPY = "%d.%d.%d" % sys.implementation.version[:3]

_CAUSES = (
    ("PWRON_RESET", "power_on"),
    ("HARD_RESET", "hard"),
    ("WDT_RESET", "wdt"),
    ("DEEPSLEEP_RESET", "deepsleep"),
    ("SOFT_RESET", "soft"),
)


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
        limit = hw("flash_free")
        if type(limit) is int:
            return limit
    from os import statvfs

    st = statvfs(".")
    return st[0] * st[3]
