# Small state files on the flash, each replaced atomically (temporary file, then rename).
import json
import os

DIR = "data"


def path(name):
    return DIR + "/" + name


def init():
    try:
        os.mkdir(DIR)
    except OSError:
        pass


def write(name, text):
    tmp = path(name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path(name))


def read(name, default=None):
    try:
        with open(path(name)) as f:
            return f.readline().strip()
    except OSError:
        return default


def read_int(name, default=0):
    try:
        return int(read(name, default))
    except ValueError:
        return default


def write_json(name, obj):
    tmp = path(name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.rename(tmp, path(name))


def read_json(name):
    try:
        with open(path(name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def remove(name):
    try:
        os.remove(path(name))
    except OSError:
        pass
