# The check of an int field in a `config/set` body, which both phases of the checks use
# (home/check.py, home/busconfig_i2c.py): loaded and dropped with either.


def int_field(cfg, name, low, high, errors, path=""):
    """Check that cfg[name] is an int in low..high (both checks' phases)."""
    if name not in cfg:
        errors.append("%s%s: missing" % (path, name))
        return
    value = cfg[name]
    if type(value) is not int:
        errors.append("%s%s: expected int, got %r" % (path, name, value))
    elif not low <= value <= high:
        errors.append("%s%s: %d is not in %d-%d" % (path, name, value, low, high))
