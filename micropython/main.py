# MicroHome node: run the `home` firmware with the settings in config.py.
# An unhandled exception is written to data/crash.txt (published after the next boot)
# and the board resets.
import sys

import machine

try:
    import config
    from home.node import run

    run(config)
except KeyboardInterrupt:
    raise
except Exception as e:
    import gc

    gc.collect()
    sys.print_exception(e)
    try:
        with open("data/crash.txt", "w") as f:
            sys.print_exception(e, f)
    except (OSError, MemoryError):
        pass
    import time

    time.sleep(1)
    machine.reset()
