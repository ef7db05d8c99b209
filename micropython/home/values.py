# The value check shared by configuration parameters (home/config.py) and `set` fields.


def fits(kind, value, low, high):
    """Whether value is of kind (i int, b bool, n int or float) and, if given, in low..high."""
    t = type(value)
    if kind == "b":
        return t is bool
    if not (t is int or (kind == "n" and t is float)):
        return False
    return low is None or low <= value <= high
