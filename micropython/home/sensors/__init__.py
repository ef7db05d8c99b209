# Peripheral drivers: one module per type (home/sensors/<type>.py) with make(home, spec) (its
# driver class, mostly), which returns an object with `id`, `kind`, `spec`, `state`, start(),
# stop() and, for outputs, `async set(cmd)`. A driver is imported when a configuration first
# uses its type and dropped when none does any more: the heap holds the drivers in use, not
# every driver there is.
import asyncio
import sys

from home import io_room

_PACKAGE = "home.sensors."


class Driver:
    """What every driver has: the Home, its spec and id, its last state, start() and stop()
    (which start and cancel its `run()` task, if it has one)."""

    kind = ""
    task = None
    fields = ()  # the `set` command's (field, kind, low, high), from the catalogue

    def __init__(self, home, spec):
        self.home = home
        self.spec = spec
        self.id = spec["id"]
        self.state = None

    def start(self):
        run = getattr(self, "run", None)
        if run:
            self.task = asyncio.create_task(run())

    def stop(self):
        if self.task:
            self.task.cancel()
            self.task = None


def flag_wait(flag):
    """flag.wait() for a pin interrupt, begun only with room for the poller's entry it makes on
    a board (home.io_room): else MemoryError, and the driver's task starts again a second
    later (its flag stays set meanwhile)."""
    io_room()
    return flag.wait()


def module(kind):
    """The driver module of a type, imported if it is not yet."""
    return __import__(_PACKAGE + kind, None, None, ("make",))


def make(home, spec):
    filters = spec.get("filters")
    if filters:  # the filter module only on a node that uses filters: its driver's Home
        from home.filter import Filtered

        home = Filtered(home, filters)
    driver = module(spec["type"]).make(home, spec)
    if filters:
        home.driver = driver
    return driver


def unload(used):
    """Forget the driver modules of types not in `used` (but not one that says it is RESIDENT,
    as the status LED, which runs from boot); the next gc frees them."""
    package = sys.modules.get("home.sensors")
    for name in [n for n in sys.modules if n.startswith(_PACKAGE)]:
        kind = name[len(_PACKAGE) :]
        if kind not in used and not getattr(sys.modules[name], "RESIDENT", False):
            del sys.modules[name]
            try:
                delattr(package, kind)
            except AttributeError:
                pass
