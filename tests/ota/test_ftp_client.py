"""The node's FTP client (micropython/home/lib/ftp.py), compiled with mpy-cross and run on the
real micropython binary against a real pyftpdlib server."""

import hashlib
import json
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from microhome_tools.ftpd import PASSWORD, USER, FtpTestServer

FIRMWARE = Path(__file__).resolve().parents[2] / "micropython"
FETCH_SCRIPT = Path(__file__).with_name("mp_fetch.py")
HEAP = "40K"  # 5 times smaller than the 200 kB file: nothing may hold a whole file

# The FTP server runs in this process (sockets to 127.0.0.1 only).
pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(scope="module")
def client_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MICROPYPATH holding home/lib/ftp.mpy, as a bundle puts it on the node."""
    path = tmp_path_factory.mktemp("mp")
    (path / "home" / "lib").mkdir(parents=True)
    target, source = path / "home/lib/ftp.mpy", FIRMWARE / "home/lib/ftp.py"
    subprocess.run(["mpy-cross", "-s", "home/lib/ftp.py", "-o", target, source], check=True)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "1.3.0").mkdir(parents=True)
    (root / "1.3.0" / "big.bin").write_bytes(os.urandom(200_000))
    (root / "1.3.0" / "small.txt").write_bytes(b"x" * 1000)
    return root


@pytest.fixture
def ftpd(root: Path) -> Iterator[FtpTestServer]:
    server = FtpTestServer(root)
    yield server
    server.stop()


def fetch_command(
    client_path: Path, port: int, files: list[tuple[str, int | None, Path]], **settings: Any
) -> tuple[list[str], dict[str, str]]:
    config = {"host": "127.0.0.1", "port": port, "user": USER, "password": PASSWORD}
    config |= settings
    config["files"] = [[path, size, str(out)] for path, size, out in files]
    config_file = files[0][2].with_suffix(".json")
    config_file.write_text(json.dumps(config))
    env = os.environ | {"MICROPYPATH": f"{client_path}:.frozen"}
    command = ["micropython", "-X", f"heapsize={HEAP}", str(FETCH_SCRIPT), str(config_file)]
    return command, env


def fetch(
    client_path: Path, port: int, files: list[tuple[str, int | None, Path]], **settings: Any
) -> list[dict[str, str]]:
    command, env = fetch_command(client_path, port, files, **settings)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetches_files_in_blocks_with_their_hash(
    client_path: Path, ftpd: FtpTestServer, root: Path, tmp_path: Path
) -> None:
    big, small = tmp_path / "big.out", tmp_path / "small.out"
    results = fetch(
        client_path,
        ftpd.port,
        [("/1.3.0/big.bin", 200_000, big), ("/1.3.0/small.txt", None, small)],
    )
    assert results == [
        {"sha256": sha256(root / "1.3.0/big.bin")},
        {"sha256": sha256(root / "1.3.0/small.txt")},
    ]
    assert big.read_bytes() == (root / "1.3.0/big.bin").read_bytes()
    assert small.read_bytes() == b"x" * 1000


def test_every_socket_is_closed_when_the_session_ends(
    client_path: Path, ftpd: FtpTestServer, tmp_path: Path
) -> None:
    files = [(f"/1.3.0/{name}", None, tmp_path / f"{i}.out") for i, name in enumerate(
        ["small.txt", "big.bin", "missing.bin", "small.txt"]
    )]  # fmt: skip
    command, env = fetch_command(client_path, ftpd.port, files)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "open sockets left: 0" in done.stdout.splitlines()


def test_file_shorter_than_expected(client_path: Path, ftpd: FtpTestServer, tmp_path: Path) -> None:
    results = fetch(client_path, ftpd.port, [("/1.3.0/small.txt", 1500, tmp_path / "out")])
    assert results == [
        {"error": "FtpShortRead", "message": "RETR /1.3.0/small.txt: 1000 bytes, expected 1500"}
    ]


def test_file_longer_than_expected_stops_before_writing_past_it(
    client_path: Path, ftpd: FtpTestServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    files = [("/1.3.0/big.bin", 5000, out), ("/1.3.0/small.txt", 1000, tmp_path / "next")]
    results = fetch(client_path, ftpd.port, files)
    assert results == [
        {
            "error": "FtpShortRead",
            "message": "RETR /1.3.0/big.bin: more than the expected 5000 bytes",
        },
        # The aborted transfer ends the session: nothing later reads its stale reply.
        {"error": "FtpConnectionLost", "message": "PASV: not connected"},
    ]
    assert out.stat().st_size <= 5000


def test_missing_file_is_a_reply_error_and_the_session_goes_on(
    client_path: Path, ftpd: FtpTestServer, root: Path, tmp_path: Path
) -> None:
    results = fetch(
        client_path,
        ftpd.port,
        [("/1.3.0/nope.mpy", 10, tmp_path / "a"), ("/1.3.0/small.txt", 1000, tmp_path / "b")],
    )
    assert results[0]["error"] == "FtpReplyError"
    assert results[0]["message"].startswith("RETR /1.3.0/nope.mpy: 550 ")
    assert results[1] == {"sha256": sha256(root / "1.3.0/small.txt")}


def test_wrong_password(client_path: Path, ftpd: FtpTestServer, tmp_path: Path) -> None:
    results = fetch(
        client_path, ftpd.port, [("/1.3.0/small.txt", None, tmp_path / "o")], password="wrong"
    )
    assert len(results) == 1
    assert results[0]["error"] == "FtpReplyError"
    assert results[0]["message"].startswith("PASS: 530 ")


def test_nothing_listening(client_path: Path, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    results = fetch(client_path, port, [("/x", None, tmp_path / "o")])
    assert len(results) == 1
    assert results[0]["error"] == "FtpConnectionLost"
    assert results[0]["message"] == f"connect: 127.0.0.1:{port}: ECONNREFUSED"


def test_server_stopped_mid_transfer(client_path: Path, root: Path, tmp_path: Path) -> None:
    # 20 kB/s for a 200 kB file: the transfer is well under way, not finished, when stopped.
    server = FtpTestServer(root, write_limit=20_000)
    out = tmp_path / "out"
    command, env = fetch_command(client_path, server.port, [("/1.3.0/big.bin", 200_000, out)])
    try:
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) as node:
            assert node.stdout is not None
            assert node.stdout.readline() == "started\n"
            server.stop()
            results = json.loads(node.stdout.read().splitlines()[-1])
            assert node.wait(timeout=30) == 0
    finally:
        server.stop()
    assert len(results) == 1
    assert results[0]["error"] == "FtpConnectionLost"
    assert results[0]["message"].startswith("RETR /1.3.0/big.bin: ")
    assert out.stat().st_size < 200_000


def test_stalled_transfer_times_out(client_path: Path, root: Path, tmp_path: Path) -> None:
    # 1 kB/s: after its first burst the server sends nothing for longer than the timeout.
    server = FtpTestServer(root, write_limit=1000)
    try:
        results = fetch(
            client_path, server.port, [("/1.3.0/big.bin", 200_000, tmp_path / "o")], timeout=1
        )
    finally:
        server.stop()
    assert len(results) == 1
    assert results[0]["error"] == "FtpConnectionLost"
    assert results[0]["message"].startswith("RETR /1.3.0/big.bin: timed out after ")


def test_not_an_ftp_server(client_path: Path, tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.9\r\n")
                conn.recv(100)

        port = listener.getsockname()[1]
        thread = threading.Thread(target=answer)
        thread.start()
        results = fetch(client_path, port, [("/x", None, tmp_path / "o")])
        thread.join()
    message = f"connect: 127.0.0.1:{port}: SSH-2.0-OpenSSH_9.9"
    assert results == [{"error": "FtpReplyError", "message": message}]
