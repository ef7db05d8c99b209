# One OTA update, run by the lean updater (home/updater.py) before the application is
# imported: the bundle is fetched over FTP into ota/, every file hashed while it is written and
# read back from the flash, then ota/ becomes the other application directory and the boot
# record names it, on trial.
import gc
import hashlib
import json
import os
from binascii import hexlify

import asyncio
import machine
from micropython import const

from home import board, slots, store

_BLOCK = const(512)


class UpdateError(Exception):
    pass


class Update:
    def __init__(self, status):
        self.m = status  # state, version, progress, error; async publish(); log(lvl, src, msg)
        self.total = self.got = 0
        self.marks = []
        self.mark = asyncio.Event()
        self.fetching = False

    async def run(self, cmd, ftp):
        """True once the new version is installed and on trial; False when it failed (the
        reason reported, the running version left as it was)."""
        m, log, version = self.m, self.m.log, cmd["version"]
        log("I", "update", "updating to %s from %s:%d" % (version, cmd["host"], cmd["port"]))
        store.write("ota_target", version)  # what the next boot reports if this one ends here
        try:
            await self.set("downloading")
            target = await self.download(cmd, ftp)
            await self.set("verifying")
            _verify()
            _pause("staged")
            await self.set("applying")
            _apply(target)
        except Exception as e:  # FtpError, UpdateError, OSError, MemoryError: all end here
            self.fetching = False
            slots.rmtree(slots.STAGING)
            gc.collect()
            m.error = str(e) or repr(e)
            if isinstance(e, MemoryError):
                m.error = "not enough memory for an update: " + m.error
            log("E", "update", "update to %s failed: %s" % (version, m.error))
            await self.set("failed")
            return False
        await self.set("rebooting", 100)
        log("I", "update", "%s installed in %s/, rebooting" % (version, target))
        return True

    async def set(self, state, progress=0):
        self.m.state, self.m.progress = state, progress
        await self.m.publish()

    async def download(self, cmd, ftp):
        target = slots.other(slots.record()[0])
        slots.rmtree(slots.STAGING)
        slots.rmtree(target)  # the version before the running one: not needed any more
        os.mkdir(slots.STAGING)
        gc.collect()
        base = cmd["path"].rstrip("/") + "/"
        async with ftp:
            got = await self.fetch(ftp, base + "manifest.json", "manifest.json", None)
            if got != cmd["manifest_sha256"]:
                raise UpdateError("manifest.json: sha256 mismatch")
            total = _check_manifest(cmd["version"])
            free = board.flash_free()
            if total > free:
                raise UpdateError(
                    "not enough flash: the bundle needs %d bytes, %d free" % (total, free)
                )
            self.total = total
            self.fetching = True
            reporter = asyncio.create_task(self.report())
            try:
                for path, size, sha in _entries():
                    slots.makedirs(slots.STAGING + "/" + path)
                    if await self.fetch(ftp, base + path, path, size) != sha:
                        raise UpdateError(path + ": sha256 mismatch")
                    if self.got * 2 >= total:
                        _pause("download")
            finally:
                self.fetching = False
                self.mark.set()
                await reporter
        return target

    async def fetch(self, ftp, src, path, size):
        with open(slots.STAGING + "/" + path, "wb") as f:

            def write(block):
                f.write(block)
                if self.fetching:
                    before = self.got
                    self.got += len(block)
                    step = self.got * 10 // self.total
                    if step > before * 10 // self.total:  # passed a 10 % step
                        self.marks.append(step * 10)
                        self.mark.set()

            return await ftp.retrieve(src, write, size)

    async def report(self):
        # Publishes each 10 % step the download passed, in order, until it ends.
        while True:
            await self.mark.wait()
            self.mark.clear()
            while self.marks:
                self.m.progress = self.marks.pop(0)
                await self.m.publish()
            if not self.fetching:
                return


def _entries():
    """Each (path, size, sha256) of ota/manifest.json, read in small blocks: the entries are
    the objects inside the outer one, and none holds another."""
    with open(slots.STAGING + "/manifest.json") as f:
        part = f.read(_BLOCK // 4)
        start = part.find("{", 1)
        while True:
            end = part.find("}", start) if start >= 0 else -1
            if end < 0:
                more = f.read(_BLOCK // 4)
                if not more:
                    return
                part = part[start:] + more if start >= 0 else more
                start = part.find("{")
                continue
            try:
                e = json.loads(part[start : end + 1])
                entry = (e["path"], e["size"], e["sha256"])
            except (ValueError, KeyError, TypeError):
                raise UpdateError("manifest.json: not a bundle manifest")
            path, size, sha = entry
            if (
                type(path) is not str
                or path[:5] != "home/"
                or ".." in path
                or type(size) is not int
            ):
                raise UpdateError("manifest.json: bad entry %r" % (path,))
            if type(sha) is not str or len(sha) != 64:
                raise UpdateError("manifest.json: bad sha256 for " + path)
            yield entry
            part = part[end + 1 :]
            start = part.find("{")


def _check_manifest(version):
    """The bundle's size; UpdateError if ota/manifest.json is not a bundle of `version`."""
    with open(slots.STAGING + "/manifest.json") as f:
        head = f.read(_BLOCK // 4)
    if not head.startswith('{"version":"%s",' % version):
        raise UpdateError("manifest.json: not a bundle of " + version)
    total = count = 0
    for entry in _entries():
        total += entry[1]
        count += 1
    if not count:
        raise UpdateError("manifest.json: no files")
    return total


def _verify():
    # Reads every staged file back from the flash: what was written is what was checked.
    buf = bytearray(_BLOCK // 4)
    view = memoryview(buf)
    for path, _, sha in _entries():
        digest = hashlib.sha256()
        with open(slots.STAGING + "/" + path, "rb") as f:
            while True:
                n = f.readinto(buf)
                if not n:
                    break
                digest.update(view[:n])
        if hexlify(digest.digest()).decode() != sha:
            raise UpdateError(path + ": sha256 mismatch on the flash")


def _apply(target):
    # Each step leaves a complete firmware to boot: until the record is renamed, the old one.
    os.rename(slots.STAGING, target)
    _pause("switch")
    slots.write(target, slots.record()[0], "0")
    _pause("switched")


def _pause(point):
    # Test hook: the simulator's hw.json {"ota_pause": point} stops the firmware here; the
    # test then kills the process, as a board losing power at that moment.
    hw = getattr(machine, "hw", None)
    if hw and hw("ota_pause") == point:
        import time

        print("ota: paused at", point)
        while True:
            time.sleep(1)
