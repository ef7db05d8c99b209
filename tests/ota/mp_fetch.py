# Runs on the real micropython binary: fetches files with home.lib.ftp and prints one JSON
# result per file (sha256 or the error class and message). argv[1]: a JSON settings file
# (a file: the unix port cannot take an argument longer than 255 bytes).
import asyncio
import json
import os
import sys

from home.lib.ftp import Ftp, FtpError

with open(sys.argv[1]) as f:
    settings = json.load(f)


def open_fds():
    return len(os.listdir("/proc/self/fd"))


async def main():
    results = []
    before = open_fds()
    try:
        async with Ftp(
            settings["host"],
            settings["port"],
            settings["user"],
            settings["password"],
            timeout=settings.get("timeout", 5),
        ) as ftp:
            for path, size, out in settings["files"]:
                with open(out, "wb") as f:  # noqa: ASYNC230 (MicroPython: plain files)

                    def write(block, f=f):
                        if f.tell() == 0:
                            print("started")
                        f.write(block)

                    try:
                        digest = await ftp.retrieve(path, write, size)
                        results.append({"sha256": digest})
                    except FtpError as err:
                        results.append({"error": type(err).__name__, "message": str(err)})
    except FtpError as err:
        results.append({"error": type(err).__name__, "message": str(err)})
    print("open sockets left:", open_fds() - before)  # no garbage collection in between
    print(json.dumps(results))


asyncio.run(main())
