# MicroHome node: run the `home` firmware with the settings in config.py.
# OTA never replaces this file. The firmware lives in two application directories, a/ and b/;
# the boot record slot.txt says which one runs:
#   "a"        run a/
#   "b a 2"    b/ is on trial (this is its boot 2), a/ is the one to go back to
#   "a b"      a/ runs again: b/ did not come up in 3 boots (the firmware reports it)
# data/ota_cmd (an accepted `ota` command) makes it run the lean updater instead of the
# application. An unhandled exception is written to data/crash.txt (published after the next
# boot) and the board resets.
import gc
import os
import sys
import time

import machine


def slot():
    try:
        with open("slot.txt") as f:
            rec = f.readline().split()
    except OSError:
        return "a"
    if len(rec) == 3:
        boots = int(rec[2]) + 1
        rec = [rec[0], rec[1], str(boots)] if boots <= 3 else [rec[1], rec[0]]
        with open("slot.tmp", "w") as f:
            f.write(" ".join(rec))
        os.rename("slot.tmp", "slot.txt")
    return rec[0] if rec and rec[0] in ("a", "b") else "a"


try:
    try:
        app = slot()
    except (OSError, ValueError):  # a damaged record: the first slot
        app = "a"
    sys.path.insert(0, app)
    import config

    try:  # an update the application accepted: the lean updater runs it, once
        os.rename("data/ota_cmd", "data/ota_run")
        from home.updater import run
    except OSError:
        from home.node import run

    run(config)
except KeyboardInterrupt:
    raise
except Exception as e:  # what it does needs no new heap: a crash may come of an empty one
    gc.collect()
    sys.print_exception(e)
    try:
        with open("data/crash.txt", "w") as f:
            sys.print_exception(e, f)
    except (OSError, MemoryError):
        pass
    time.sleep(1)
    machine.reset()
