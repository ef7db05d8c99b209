"""A real mosquitto on loopback for the demo and the tests: start, stop, restart on one port."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

from microhome_tools.common import free_port


class Mosquitto:
    """One mosquitto process listening on 127.0.0.1:port; with tls (the broker's certificate
    and key files, PEM), on 127.0.0.1:tls_port in TLS as well."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        persist: bool = False,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.conf = workdir / "mosquitto.conf"
        persistence = f"persistence true\npersistence_location {workdir}/\n" if persist else ""
        self.tls_port = free_port() if tls else None
        listeners = f"listener {self.port} 127.0.0.1\n"
        if tls:
            listeners += f"listener {self.tls_port} 127.0.0.1\n"
            listeners += f"certfile {tls[0]}\nkeyfile {tls[1]}\n"
        self.conf.write_text(
            f"{listeners}allow_anonymous true\n{persistence}"
            # as root, mosquitto would switch to its own user, who cannot write here
            f"{'user root' + chr(10) if os.geteuid() == 0 else ''}"
            f"log_dest file {workdir / 'mosquitto.log'}\nlog_type all\n"
        )

    @staticmethod
    def binary() -> str | None:
        return shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )

    def start(self) -> Self:
        binary = self.binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed")
        self.process = subprocess.Popen(
            [binary, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {self.process.returncode}") from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
