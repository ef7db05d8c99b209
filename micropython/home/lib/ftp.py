# Small FTP client for OTA: passive mode, binary, files streamed in small blocks.
#
#   async with Ftp(host, 2121, user, password) as ftp:  # or connect() ... quit()
#       digest = await ftp.retrieve("/1.3.0/manifest.json", f.write, size)
#
# `write` gets a memoryview of a reused buffer: it must consume it before returning.
# Errors are FtpError: FtpReplyError (an unexpected reply), FtpConnectionLost (refused, closed,
# reset or silent for `timeout` seconds) and FtpShortRead (not the expected length).
import asyncio
import errno
import hashlib
from binascii import hexlify

from micropython import const

_BLOCK = const(512)


class FtpError(Exception):
    pass


class FtpReplyError(FtpError):
    # The server answered with a code we did not expect (or something that is not a reply).
    def __init__(self, command, line):
        super().__init__("%s: %s" % (command, line))
        self.code = int(line[:3]) if line[:3].isdigit() else 0


class FtpConnectionLost(FtpError):
    pass


class FtpShortRead(FtpError):
    pass


def _lost(what, err):
    # "ECONNREFUSED" rather than "OSError(111,)".
    code = err.errno
    return FtpConnectionLost("%s: %s" % (what, getattr(errno, "errorcode", {}).get(code, code)))


class Ftp:
    def __init__(self, host, port, user, password, timeout=10, block=_BLOCK):
        self.host = host
        self.port = port
        self._user = user
        self._password = password
        self._timeout_ms = int(timeout * 1000)
        self._buf = bytearray(block)
        self._ctrl = None
        self._last = ""
        self._moved = 0  # bytes seen by the running transfer, for the stall watchdog
        self._stalled = False

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, exc_type, exc, tb):
        if exc_type is None:
            await self.quit()
        else:
            await self.close()

    async def connect(self):
        self._ctrl = await self._open(self.port, "connect")
        try:
            await self._reply("connect: %s:%d" % (self.host, self.port), (220,))
            code = await self.command("USER " + self._user, (230, 331), "USER")
            if code == 331:
                await self.command("PASS " + self._password, (230, 202), "PASS")
            await self.command("TYPE I", (200,))
        except BaseException:
            await self.close()
            raise

    async def command(self, line, expect, name=None):
        # Sends one command and returns the code of its reply, which must be in `expect`.
        name = name or line
        if self._ctrl is None:
            raise FtpConnectionLost(name + ": not connected")
        try:
            self._ctrl.write(line.encode() + b"\r\n")
            await asyncio.wait_for_ms(self._ctrl.drain(), self._timeout_ms)
        except asyncio.TimeoutError:
            raise FtpConnectionLost(name + ": timed out")
        except OSError as err:
            raise _lost(name, err)
        return await self._reply(name, expect)

    async def retrieve(self, path, write, size=None):
        # Streams `path` into `write`; returns its sha256 as hex. With `size`, a file of
        # any other length raises FtpShortRead (a longer one as soon as it overflows).
        await self.command("PASV", (227,))
        data = await self._open(self._passive_port(), "RETR " + path)
        try:
            await self.command("RETR " + path, (125, 150))
            sha = hashlib.sha256()
            try:
                got = await self._copy(data, write, sha, path, size)
            except BaseException:
                await self.close()  # a transfer cut short: its last reply would come out of turn
                raise
        finally:
            await data.wait_closed()  # Stream.close() does nothing in MicroPython
        try:
            await self._reply("RETR " + path, (226, 250))
        except FtpConnectionLost:
            raise FtpConnectionLost("RETR %s: connection lost after %d bytes" % (path, got))
        if size is not None and got != size:
            raise FtpShortRead("RETR %s: %d bytes, expected %d" % (path, got, size))
        return hexlify(sha.digest()).decode()

    async def quit(self):
        try:
            await self.command("QUIT", (221,))
        except FtpError:
            pass
        await self.close()

    async def close(self):
        """Close the control connection (`wait_closed()` closes; `close()` would not)."""
        ctrl, self._ctrl = self._ctrl, None
        if ctrl is not None:
            await ctrl.wait_closed()

    async def _copy(self, data, write, sha, path, size):
        # The data loop: one preallocated buffer, no per-block allocation when blocks are
        # full. A watchdog task cancels this task when no byte arrives for `timeout`.
        buf = self._buf
        view = memoryview(buf)
        full = len(buf)
        got = 0
        self._moved = 0
        self._stalled = False
        watchdog = asyncio.create_task(self._watch(asyncio.current_task()))
        try:
            while True:
                n = await data.readinto(buf)
                if not n:
                    return got
                if size is not None and got + n > size:
                    raise FtpShortRead("RETR %s: more than the expected %d bytes" % (path, size))
                block = view if n == full else view[:n]
                sha.update(block)
                write(block)
                got += n
                self._moved = got
        except asyncio.CancelledError:
            if self._stalled:
                raise FtpConnectionLost("RETR %s: timed out after %d bytes" % (path, got))
            raise
        except OSError as err:
            raise _lost("RETR %s: after %d bytes" % (path, got), err)
        finally:
            watchdog.cancel()

    async def _watch(self, task):
        while True:
            seen = self._moved
            await asyncio.sleep_ms(self._timeout_ms)
            if self._moved == seen:
                self._stalled = True
                task.cancel()
                return

    async def _reply(self, name, expect):
        # Reads one reply (all lines of a multi-line one) and checks its code.
        first = None
        while True:
            try:
                line = await asyncio.wait_for_ms(self._ctrl.readline(), self._timeout_ms)
            except asyncio.TimeoutError:
                raise FtpConnectionLost(name + ": timed out")
            except OSError as err:
                raise _lost(name, err)
            if not line:
                raise FtpConnectionLost(name + ": connection closed")
            line = line.decode().rstrip("\r\n")
            if first is None:
                first = line
                if not first[:3].isdigit():
                    raise FtpReplyError(name, line)
            # A reply ends with its code and a space; "123-" starts a multi-line one.
            if line[:3] == first[:3] and line[3:4] != "-":
                break
        code = int(first[:3])
        if code not in expect:
            raise FtpReplyError(name, first)
        self._last = first
        return code

    def _passive_port(self):
        # "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)". The address is ignored: the data
        # connection goes to the control connection's host, which works behind NAT too.
        text = self._last
        try:
            fields = text[text.index("(") + 1 : text.index(")")].split(",")
            return int(fields[4]) * 256 + int(fields[5])
        except (ValueError, IndexError):
            raise FtpReplyError("PASV", text)

    async def _open(self, port, name):
        try:
            reader, _ = await asyncio.wait_for_ms(
                asyncio.open_connection(self.host, port), self._timeout_ms
            )
        except asyncio.TimeoutError:
            raise FtpConnectionLost("%s: %s:%d timed out" % (name, self.host, port))
        except OSError as err:
            raise _lost("%s: %s:%d" % (name, self.host, port), err)
        return reader
