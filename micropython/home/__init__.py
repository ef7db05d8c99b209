# MicroHome node firmware. main.py calls home.node.run(config).
import sys

import machine

# The simulator's machine module says which board it stands in for.
PLATFORM = getattr(machine, "SIM_PLATFORM", None) or sys.platform
