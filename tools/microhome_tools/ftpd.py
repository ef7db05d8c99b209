"""A real pyftpdlib server in a thread, with its own IOLoop, serving firmware bundles to nodes
(the OTA tests and `microhome bench --only heap`)."""

import hashlib
import threading
from pathlib import Path
from typing import Any

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import DTPHandler, FTPHandler, ThrottledDTPHandler
from pyftpdlib.ioloop import IOLoop
from pyftpdlib.servers import FTPServer

USER = "node"
PASSWORD = "s3cret"
# Longer than 75 characters, so pyftpdlib sends it as a multi-line "220-" reply.
BANNER = "MicroHome test server: " + "a banner long enough to be sent on several lines " * 2


class FtpTestServer:
    def __init__(self, root: Path, write_limit: int = 0) -> None:
        authorizer = DummyAuthorizer()
        authorizer.add_user(USER, PASSWORD, str(root), perm="elr")
        dtp = (
            type("SlowDTPHandler", (ThrottledDTPHandler,), {"write_limit": write_limit})
            if write_limit
            else DTPHandler
        )
        handler = type(
            "TestFTPHandler",
            (FTPHandler,),
            {"authorizer": authorizer, "banner": BANNER, "dtp_handler": dtp},
        )
        self.server = FTPServer(("127.0.0.1", 0), handler, ioloop=IOLoop())
        self.port: int = self.server.address[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="test-ftpd", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        # ioloop.loop rather than serve_forever, which logs "starting" on every call.
        while not self._stopping.is_set():
            self.server.ioloop.loop(timeout=0.05, blocking=False)
        self.server.close_all()

    def stop(self) -> None:
        """Close every connection and the listening socket, as a server that goes away."""
        self._stopping.set()
        self._thread.join()


def ota_fields(bundle: Path, port: int) -> dict[str, Any]:
    """The fields of an `ota` command that installs `bundle` from this server at `port`."""
    return {
        "version": bundle.name,
        "host": "127.0.0.1",
        "port": port,
        "user": USER,
        "password": PASSWORD,
        "path": "/" + bundle.name,
        "manifest_sha256": manifest_sha256(bundle),
    }


def manifest_sha256(bundle: Path) -> str:
    return hashlib.sha256((bundle / "manifest.json").read_bytes()).hexdigest()
