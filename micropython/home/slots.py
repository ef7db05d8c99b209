# The application directories a/ and b/ (each holding home/), the staging directory ota/,
# and the boot record slot.txt that main.py reads (its format is described there).
# The record is only ever replaced whole: a temporary file, then a rename.
import os

RECORD = "slot.txt"
STAGING = "ota"
_DIR = 0x4000


def record():
    """The boot record's fields: ["a"], ["b", "a", "1"] (b on trial) or ["a", "b"] (rolled back)."""
    try:
        with open(RECORD) as f:
            return f.readline().split() or ["a"]
    except OSError:
        return ["a"]


def write(*fields):
    with open("slot.tmp", "w") as f:
        f.write(" ".join(fields))
    os.rename("slot.tmp", RECORD)


def other(name):
    return "b" if name == "a" else "a"


def rmtree(path):
    try:
        entries = [(e[0], e[1]) for e in os.ilistdir(path)]
    except OSError:
        return  # not there
    for name, kind in entries:
        if kind == _DIR:
            rmtree(path + "/" + name)
        else:
            os.remove(path + "/" + name)
    os.rmdir(path)


def makedirs(path):
    """Create every directory above the file `path`."""
    end = path.find("/")
    while end > 0:
        try:
            os.mkdir(path[:end])
        except OSError:
            pass  # already there
        end = path.find("/", end + 1)
