"""scripts/env's copy of the host's CA bundle: never seen half-written by a running process."""

import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "scripts" / "install-if-changed"
BUNDLE = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")

# Loads SSL contexts from argv[1] until argv[2] exists; prints "loads failures".
READER = """
import os, ssl, sys
bundle, stop, ready = sys.argv[1:4]
loads = failures = 0
open(ready, "w").close()
while not os.path.exists(stop) or loads < 5:
    try:
        ssl.create_default_context(cafile=bundle)
    except (ssl.SSLError, OSError):
        failures += 1
    loads += 1
print(loads, failures)
"""

READERS = 3
WRITERS = 3

pytestmark = pytest.mark.skipif(not BUNDLE.is_file(), reason="no CA bundle on this machine")


def test_parallel_copies_never_expose_a_half_written_bundle(tmp_path: Path) -> None:
    """Writers alternate two valid bundles while readers load SSL contexts from the copy."""
    first = tmp_path / "first.crt"
    second = tmp_path / "second.crt"
    first.write_bytes(BUNDLE.read_bytes())
    second.write_bytes(BUNDLE.read_bytes() + b"\n# a changed bundle\n")
    dest = tmp_path / "rootfs-ca.crt"
    subprocess.run([INSTALL, first, dest], check=True)
    stop = tmp_path / "stop"
    readers = []
    for index in range(READERS):
        ready = tmp_path / f"ready{index}"
        readers.append(
            subprocess.Popen(
                [sys.executable, "-c", READER, dest, stop, ready],
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    while not all((tmp_path / f"ready{index}").exists() for index in range(READERS)):
        os.sched_yield()
    versions = set()
    writers = [
        subprocess.Popen(
            [
                "bash",
                "-c",
                'for i in $(seq 10); do "$0" "$1" "$3" && "$0" "$2" "$3" || exit 1; done',
                INSTALL,
                first,
                second,
                dest,
            ]
        )
        for _ in range(WRITERS)
    ]
    while any(writer.poll() is None for writer in writers):
        status = dest.stat()
        versions.add((status.st_ino, status.st_mtime_ns))
    stop.touch()
    assert [writer.returncode for writer in writers] == [0] * WRITERS
    results = [tuple(map(int, reader.communicate()[0].split())) for reader in readers]
    assert all(loads >= 5 for loads, _ in results)
    assert [failures for _, failures in results] == [0] * READERS
    # The copy really was replaced while they read.
    assert len(versions) > 3
    assert dest.read_bytes() in (first.read_bytes(), second.read_bytes())
    assert not list(tmp_path.glob("rootfs-ca.crt.*")), "temporary files left behind"


def test_an_unchanged_bundle_is_not_rewritten(tmp_path: Path) -> None:
    source = tmp_path / "host.crt"
    source.write_bytes(BUNDLE.read_bytes())
    dest = tmp_path / "rootfs-ca.crt"
    subprocess.run([INSTALL, source, dest], check=True)
    before = dest.stat()
    for _ in range(3):
        subprocess.run([INSTALL, source, dest], check=True)
    after = dest.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    source.write_bytes(BUNDLE.read_bytes() + b"\n")
    subprocess.run([INSTALL, source, dest], check=True)
    assert dest.read_bytes() == source.read_bytes()
    assert dest.stat().st_mode & 0o777 == 0o644


def test_a_missing_source_leaves_the_copy_alone(tmp_path: Path) -> None:
    dest = tmp_path / "resolv.conf"
    dest.write_text("nameserver 192.0.2.1\n")
    subprocess.run([INSTALL, tmp_path / "absent", dest], check=True)
    assert dest.read_text() == "nameserver 192.0.2.1\n"
