"""Real firmware nodes for tests: `microhome sim` processes, each logging to a file, stopped
however the test ends."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from microhome_tools.bench_ha import stop_process


@contextlib.contextmanager
def running(commands: dict[str, list[str]], log_dir: Path) -> Iterator[None]:
    """Run each command (by node id), its output in log_dir/<node id>.log."""
    with contextlib.ExitStack() as stack:
        for node_id, command in commands.items():
            log = stack.enter_context((log_dir / f"{node_id}.log").open("wb"))
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            stack.callback(stop_process, process)
        yield
