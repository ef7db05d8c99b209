# Checks a whole `config/set` body (docs/protocol.md, "Configuration limits").
from home.board import pin_error

TYPES = ("dht22", "motion", "led", "status_led")
# type -> ((field, default, low, high), ...)
PARAMS = {
    "dht22": (("interval", 30, 2, 86400),),
    "motion": (("off_delay", 30, 0, 3600),),
    "led": (("freq", 1000, 100, 40000),),
    "status_led": (),
}


def is_id(s, chars, longest):
    if type(s) is not str or not 1 <= len(s) <= longest:
        return False
    for c in s:
        if not ("a" <= c <= "z" or "0" <= c <= "9" or c in chars):
            return False
    return True


def _int(cfg, name, low, high, errors, path=""):
    if name not in cfg:
        errors.append("%s%s: missing" % (path, name))
        return
    value = cfg[name]
    if type(value) is not int:
        errors.append("%s%s: expected int, got %r" % (path, name, value))
    elif not low <= value <= high:
        errors.append("%s%s: %d is not in %d-%d" % (path, name, value, low, high))


def validate(cfg):
    """Every problem with the body, each starting with its field's path; [] if it is good."""
    if type(cfg) is not dict:
        return ["config: expected an object"]
    errors = []
    _int(cfg, "n", 0, 1 << 62, errors)
    _int(cfg, "version", 0, 1 << 62, errors)
    _int(cfg, "telemetry_interval", 5, 86400, errors)
    name = cfg.get("name")
    if type(name) is not str:
        errors.append("name: expected str, got %r" % (name,))
    elif len(name) > 32:
        errors.append("name: longer than 32 characters")
    if cfg.get("log_level") not in ("D", "I", "W", "E", "C"):
        errors.append("log_level: %r is not one of D I W E C" % (cfg.get("log_level"),))
    sensors = cfg.get("sensors")
    if type(sensors) is not list:
        errors.append("sensors: expected a list")
        return errors
    if len(sensors) > 16:
        errors.append("sensors: more than 16")
    ids = []
    pins = []
    status_leds = 0
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
        if kind not in TYPES:
            errors.append("%s.type: %r is not one of %s" % (path, kind, ", ".join(TYPES)))
            continue
        if kind == "status_led":
            status_leds += 1
            if status_leds == 2:
                errors.append(path + ".type: only one status_led")
        pin = sensor.get("pin")
        why = pin_error(kind, pin)
        if why:
            errors.append("%s.pin: %s" % (path, why))
        elif pin in pins:
            errors.append("%s.pin: %s used twice" % (path, pin))
        else:
            pins.append(pin)
        for name, default, low, high in PARAMS[kind]:
            if name not in sensor:
                sensor[name] = default
            _int(sensor, name, low, high, errors, path + ".")
    return errors
