# MicroHome node firmware. main.py calls home.node.run(config).
import gc
import sys

import machine
from micropython import const

# The simulator's machine module says which board it stands in for.
PLATFORM = getattr(machine, "SIM_PLATFORM", None) or sys.platform

# Free bytes a task needs before it waits on asyncio's poller (a socket, a pin interrupt's
# ThreadSafeFlag on a board): MicroPython's poll, out of memory in register(), keeps a
# half-made entry that crashes the interpreter at its next poll (extmod/modselect.c says so).
# Its entry is a few blocks; the rest is margin.
_IO_FREE = const(256)


def io_room(need=_IO_FREE):
    """MemoryError, before anything is changed, unless need bytes are free for a wait on the
    poller and what leads to it."""
    if gc.mem_free() < need:
        gc.collect()
        if gc.mem_free() < need:
            raise MemoryError
