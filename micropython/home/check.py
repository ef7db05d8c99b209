# The checks of a whole `config/set` body (docs/protocol.md, "Configuration limits") against
# the tables generated from the integration's catalogue, all but its peripherals' pins and
# buses (home/pincheck.py, loaded after this is dropped). Imported by home/config.py's
# validate() only while it checks a configuration, then dropped with the tables.
from home.catalogue import NAMES, TYPES
from home.config_table import PARAMS
from home.int_field import int_field
from home.log import LEVELS


def is_id(s, chars, longest):
    if type(s) is not str or not 1 <= len(s) <= longest:
        return False
    for c in s:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c in chars):
            return False
    return True


def _params(spec, params, distinct, path, errors, fits):
    """Check a peripheral's parameters (or a value's filter settings); a missing one gets its
    default."""
    had = len(errors)
    for name, kind, default, low, high in params:
        if name not in spec:
            spec[name] = default
        value = spec[name]
        where = "%s.%s: " % (path, name)
        if kind == "c":
            if type(value) is not str or value not in low:
                errors.append("%s%r is not one of %s" % (where, value, ", ".join(low)))
        elif kind == "b" or type(value) not in ((int,) if kind == "i" else (int, float)):
            if not fits(kind, value, None, None):
                word = "bool" if kind == "b" else "int" if kind == "i" else "number"
                errors.append("%sexpected %s, got %r" % (where, word, value))
        elif not low <= value <= high:
            errors.append("%s%r is not in %s-%s" % (where, value, low, high))
    if len(errors) == had:
        for first, second in distinct:
            if spec[first] == spec[second]:
                errors.append("%s.%s: must differ from %s" % (path, second, first))


def _num(text):
    return float(text) if "." in text or "e" in text else int(text)


def _rows(text):
    """The rows of a home/config_table.py string, their cells as the checks take them."""
    rows = []
    for row in text.split(";") if text else ():
        cells = row.split(" ")
        if len(cells) == 5:
            name, kind, default, low, high = cells
            if kind == "c":
                low = low.split("/")
            elif kind != "b":
                default, low, high = _num(default), _num(low), _num(high)
            cells = (name, kind, default == "T" if kind == "b" else default, low, high)
        rows.append(cells)
    return rows


def run(cfg, fits):
    """Every problem with the body but its peripherals' pins and buses, each starting with its
    field's path, and the peripherals whose pins and buses are to be checked, each as (index,
    type, pin role, where in the errors their problems belong). fits: home/config.py's check
    of a value's kind and range."""
    params = PARAMS
    pins = []
    if type(cfg) is not dict:
        return ["config: expected an object"], pins
    errors = []
    int_field(cfg, "n", 0, 1 << 62, errors)
    int_field(cfg, "version", 0, 1 << 62, errors)
    int_field(cfg, "telemetry_interval", 5, 86400, errors)
    name = cfg.get("name")
    if type(name) is not str:
        errors.append("name: expected str, got %r" % (name,))
    elif len(name) > 32:
        errors.append("name: longer than 32 characters")
    level = cfg.get("log_level")
    if type(level) is not str or len(level) != 1 or level not in LEVELS:
        errors.append("log_level: %r is not one of %s" % (level, " ".join(LEVELS)))
    sensors = cfg.get("sensors")
    if type(sensors) is not list:
        errors.append("sensors: expected a list")
        return errors, pins
    if len(sensors) > 16:
        errors.append("sensors: more than 16")
    ids = []
    singles = []
    for i, sensor in enumerate(sensors):
        path = "sensors[%d]" % i
        if type(sensor) is not dict:
            errors.append(path + ": expected an object")
            continue
        sid = sensor.get("id")
        if not is_id(sid, "_", 16):
            errors.append("%s.id: %r is not a sensor id ([a-z0-9_]{1,16})" % (path, sid))
        elif sid in ids:
            errors.append("%s.id: %s used twice" % (path, sid))
        else:
            ids.append(sid)
        kind = sensor.get("type")
        entry = TYPES.get(kind) if type(kind) is str else None
        if not entry:
            errors.append("%s.type: %r is not one of %s" % (path, kind, ", ".join(NAMES)))
            continue
        if entry[1]:
            if kind in singles:
                errors.append("%s.type: only one %s" % (path, kind))
            singles.append(kind)
        pins.append((i, kind, entry[0], len(errors)))
        rows, pairs = params[kind]
        _params(sensor, _rows(rows), _rows(pairs), path, errors, fits)
        if "filters" in sensor:  # the filter module only for a configuration with filters
            from home.filter import check

            check(sensor["filters"], kind, path + ".filters", errors, _params, fits)
    return errors, pins
