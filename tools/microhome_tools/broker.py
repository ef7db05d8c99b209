"""A real mosquitto on loopback for the demo and the tests: start, stop, restart on one port."""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

from microhome_tools.common import free_port

# The access control docs/security.md recommends: each node logs in as a user named after its
# node id and may use only its own topics, plus read what every node listens to; Home
# Assistant's user (HA_USER below) may do everything.
NODE_ACL = """\
# Home Assistant's own login: every topic (MicroHome's and the MQTT integration's own).
user {ha_user}
topic readwrite #

# Every other login is a node, named after its node id: its own topics only.
pattern readwrite microhome/%u/#
pattern read microhome/discover
pattern read homeassistant/status
"""
HA_USER = "homeassistant"


class Mosquitto:
    """One mosquitto process listening on 127.0.0.1:port; with tls (the broker's certificate
    and key files, PEM), on 127.0.0.1:tls_port in TLS as well."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        persist: bool = False,
        users: dict[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """users (name: password): logins only, under NODE_ACL; otherwise anonymous clients.
        tls (certificate, key): a second listener, on tls_port, for MQTT over TLS."""
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.conf = workdir / "mosquitto.conf"
        persistence = f"persistence true\npersistence_location {workdir}/\n" if persist else ""
        access = "allow_anonymous true\n"
        if users is not None:
            access = self._logins(users)
        self.tls_port = free_port() if tls else None
        listeners = f"listener {self.port} 127.0.0.1\n"
        if tls:
            listeners += f"listener {self.tls_port} 127.0.0.1\n"
            listeners += f"certfile {tls[0]}\nkeyfile {tls[1]}\n"
        self.conf.write_text(
            f"{listeners}{access}{persistence}"
            # each packet out at once: no delayed-ACK stall behind a small one (issue 14)
            "set_tcp_nodelay true\n"
            # as root, mosquitto would switch to its own user, who cannot write here
            f"{'user root' + chr(10) if os.geteuid() == 0 else ''}"
            f"log_dest file {workdir / 'mosquitto.log'}\nlog_type all\n"
        )

    def _logins(self, users: dict[str, str]) -> str:
        passwords = self.workdir / "passwords"
        passwords.write_text("")
        passwords.chmod(0o600)
        tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        for name, password in users.items():
            subprocess.run([tool, "-b", str(passwords), name, password], check=True)
        acl = self.workdir / "acl"
        acl.write_text(NODE_ACL.format(ha_user=HA_USER))
        acl.chmod(0o600)
        return f"allow_anonymous false\npassword_file {passwords}\nacl_file {acl}\n"

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
