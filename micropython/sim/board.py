# The board, for the unix port: `micropython -X heapsize=<heap + reserve> -m board FREE
# MODULE...` loads the simulated hardware (MODULE...: C modules in ROM on a board, Python in
# the heap here), then holds a ballast so that the firmware starts with FREE bytes free, as it
# would on a board with the heap asked for, and runs main.py. Every boot comes through here
# (tools/microhome_tools/sim.py; docs/firmware.md, "Memory").
import gc
import json
import os
import sys

# What the simulated hardware imports from the library beside the built-in modules. The
# firmware imports it too, and on a board it costs heap: it is counted in, not out.
_LIBRARY = ("asyncio",)


def _alloc():
    gc.collect()
    return gc.mem_alloc()


_free = int(sys.argv[1])
_hardware = sys.argv[2:]
_start = _alloc()
for _name in _LIBRARY:
    __import__(_name)
_library = _alloc() - _start
_known = set(sys.modules)
for _name in _hardware:
    __import__(_name)
_stray = [n for n in sys.modules if n not in _known and n not in _hardware]
if _stray:
    raise SystemExit("board: the simulated hardware imports %s: add it to _LIBRARY" % _stray)
_counted_out = _alloc() - _start - _library
_want = _free - _library
del _name, _known, _stray, _hardware
_ballast = gc.mem_free() - _want - 32  # less the bytearray's own object
if _ballast < 0:
    raise SystemExit("board: the reserve is %d bytes too small" % -_ballast)
_ballast = bytearray(_ballast)
_free = gc.mem_free()
with open((os.getenv("MICROHOME_STATE") or ".") + "/board.json", "w") as _f:
    _f.write(json.dumps({"hardware": _counted_out, "library": _library, "free": _free}))
del _f
gc.collect()
execfile("main.py", {"__name__": "__main__"})
