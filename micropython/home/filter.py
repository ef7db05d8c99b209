# A sensor's filters (docs/protocol.md, "Filters"), per value: the median or mean of the
# last `window` readings, the line through (raw1, ref1) and (raw2, ref2), the offset; then the
# value is published only when it moved by at least `delta` since it was last published, or
# `heartbeat` s passed. Imported only by a node whose configuration uses filters. The settings
# come checked and completed with their defaults by check(), which home/check.py calls for a
# configuration with filters.
from time import ticks_diff, ticks_ms

from home.filter_table import FILTER, FILTER_DISTINCT, FILTERABLE

_LIMIT = 1e15  # a filtered value beyond this (or not a number at all) is never published


class Value:
    def __init__(self, s):
        n = s["window"]
        self.ring = [0.0] * n if n > 1 else None
        self.pos = 0
        self.count = 0
        self.median = s["average"] == "median"
        self.slope = (s["ref2"] - s["ref1"]) / (s["raw2"] - s["raw1"])
        self.base = s["ref1"] - s["raw1"] * self.slope + s["offset"]
        self.delta = s["delta"]
        self.beat = s["heartbeat"] * 1000
        self.sent = None  # the value last published
        self.at = 0  # when, ticks_ms

    def filter(self, raw):
        """The filtered value of a new reading; None if it is not a finite number."""
        ring = self.ring
        if ring is not None:
            if not -_LIMIT < raw < _LIMIT:  # NaN too: kept out of the window
                return None
            ring[self.pos] = raw
            self.pos = (self.pos + 1) % len(ring)
            n = self.count = min(self.count + 1, len(ring))
            if self.median:
                ordered = sorted(ring[:n])
                half = n // 2
                raw = ordered[half] if n & 1 else (ordered[half - 1] + ordered[half]) / 2
            else:
                raw = sum(ring[:n]) / n
        value = raw * self.slope + self.base
        return round(value, 4) if -_LIMIT < value < _LIMIT else None


class Filtered:
    """The Home as a driver with filters sees it: its states go through the filters."""

    def __init__(self, home, filters):
        self.home = home
        self.driver = None  # set once the driver is made
        self.sent = None  # the state last published
        self.values = {key: Value(settings) for key, settings in filters.items()}

    def __getattr__(self, name):
        return getattr(self.home, name)

    async def publish_state(self, sid, state, retain=True):
        state = self.apply(state)
        if state:
            self.sent = state
            await self.home.publish_state(sid, state, retain)
        self.driver.state = self.sent  # what a reconnect publishes again: the filtered state

    def apply(self, state):
        """state with its values filtered, or None when none is due to be published."""
        if "error" in state:  # told at once; the next good reading is published
            for value in self.values.values():
                value.sent = None
            return state
        now = ticks_ms()
        due = any(key not in self.values for key in state)  # unfiltered: every reading
        for key, value in self.values.items():
            if key not in state:
                continue
            new = value.filter(state[key])
            if new is None:
                if value.sent is None:
                    return None  # nothing sound to say yet
            elif (
                value.sent is None
                or abs(new - value.sent) >= value.delta
                or (value.beat and ticks_diff(now, value.at) >= value.beat)
            ):
                value.sent = new
                value.at = now
                due = True
            state[key] = value.sent
        return state if due else None


def check(filters, kind, path, errors, params, fits):
    """Check a peripheral's `filters`: value -> its settings, each completed with its default by
    params (home/check.py's check of parameters, which takes fits)."""
    if type(filters) is not dict:
        errors.append(path + ": expected an object")
        return
    values = FILTERABLE.get(kind, ())
    known = [row[0] for row in FILTER]
    for value, settings in filters.items():
        where = "%s.%s" % (path, value)
        if value not in values:
            names = ", ".join(values) or "none"
            errors.append("%s: not a filterable value of %s (%s)" % (where, kind, names))
        elif type(settings) is not dict:
            errors.append(where + ": expected an object")
        else:
            for key in settings:
                if key not in known:
                    errors.append("%s.%s: unknown setting" % (where, key))
            params(settings, FILTER, FILTER_DISTINCT, where, errors, fits)
