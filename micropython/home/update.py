# What became of the last update, for the application; imported for each of these rare
# moments and dropped after it (home/rare.py); the `ota` command is in home/commands.py. The
# node keeps the status it reports (Home.ota: state, version, progress, error) and two flags,
# Home.trial and Home.settle.
# An accepted `ota` command is stored in data/ota_cmd and the node resets into the lean updater
# (home/updater.py, run by main.py before the application), which installs the new version in
# the other slot. A new version boots on trial (slots.py, main.py): it is good once it reached
# the broker and reported; main.py goes back to the old one after 3 boots that did not get there.
from home import slots, store
from home.version import VERSION


def boot(home):
    """At boot: the firmware's trial, or the outcome of the last update to report."""
    log = home.log.src("update")
    previous = store.read("fw")
    if previous != VERSION:
        store.write("fw", VERSION)
        log("I", "firmware %s (was %s)" % (VERSION, previous or "none"))
    rec = slots.record()
    target = store.read("ota_target")
    if len(rec) == 3:
        home.trial = True  # good once connected: confirm()
        home.ota = ["rebooting", VERSION, 100, None]
        log("I", "firmware %s on trial, boot %s of 3" % (VERSION, rec[2]))
    elif target or len(rec) == 2:
        home.settle = True  # ota_target and the record tidied once the outcome is reported
        version = target or "?"
        if len(rec) == 2:
            error = "%s did not reach the broker in 3 boots; back on %s%s" % (
                version,
                VERSION,
                _last_crash(),
            )
            home.ota = ["rolled_back", version, 0, error]
        else:
            error = store.read("ota_error") or "update to %s interrupted; still on %s" % (
                target,
                VERSION,
            )
            home.ota = ["failed", version, 0, error]
        log("E", "update to %s: %s" % (version, error))
    slots.rmtree(slots.STAGING)  # what an interrupted download left


def confirm(home):
    """Connected and announced: the version on trial is good."""
    slots.write(slots.record()[0])
    store.remove("ota_target")
    home.trial = False
    home.ota = ["done", VERSION, 100, None]
    home.log("I", "update", "firmware %s confirmed" % VERSION)


def settle(home):
    """The outcome of the last update was reported: tidy its files and the boot record."""
    store.remove("ota_target")
    store.remove("ota_error")
    slots.write(slots.record()[0])
    home.settle = False


def _last_crash():
    """': ' and the last line of data/crash.txt (the exception), or ''."""
    last = ""
    try:
        with open(store.path("crash.txt")) as f:
            while True:
                line = f.readline(160).strip()
                if not line:
                    break
                last = line
    except OSError:
        pass
    return ": " + last if last else ""
