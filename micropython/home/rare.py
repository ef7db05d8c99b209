# Modules for rare events (the boot's bookkeeping, an update, checking a configuration): each is
# imported for one call and dropped after it, so the heap keeps only what runs all the time.
import gc
import sys


def call(names, function, *args):
    """names[0].function(*args). The modules in names (names[0] and those it imports) that were
    not loaded before are dropped afterwards, also when the call or the import fails."""
    new = [name for name in names if name not in sys.modules]
    try:
        return getattr(__import__(names[0], None, None, (function,)), function)(*args)
    finally:
        drop(new)


def drop(names):
    """Forget the modules `names` (and their packages' references to them); the collection
    frees them."""
    for name in names:
        if sys.modules.pop(name, None) is not None:
            dot = name.rfind(".")
            try:
                delattr(sys.modules[name[:dot]], name[dot + 1 :])
            except (AttributeError, KeyError):
                pass
    gc.collect()
