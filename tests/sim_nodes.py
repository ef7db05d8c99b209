"""Real firmware nodes for tests: `microhome sim` processes, each logging to a file, that a
test can stop and start again (a power cut), all stopped however the test ends."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from microhome_tools.common import stop_process


class SimNodes:
    """The nodes' commands by node id; start and stop them one by one."""

    def __init__(self, commands: dict[str, list[str]], log_dir: Path) -> None:
        self.commands = commands
        self.log_dir = log_dir
        self.processes: dict[str, tuple[subprocess.Popen[bytes], IO[bytes]]] = {}

    def start(self, node_id: str) -> None:
        log = (self.log_dir / f"{node_id}.log").open("ab")
        process = subprocess.Popen(self.commands[node_id], stdout=log, stderr=subprocess.STDOUT)
        self.processes[node_id] = (process, log)

    def stop(self, node_id: str) -> None:
        process, log = self.processes.pop(node_id)
        stop_process(process, 3)
        log.close()


@contextlib.contextmanager
def running(commands: dict[str, list[str]], log_dir: Path) -> Iterator[SimNodes]:
    """Run each command (by node id), its output in log_dir/<node id>.log."""
    nodes = SimNodes(commands, log_dir)
    try:
        for node_id in commands:
            nodes.start(node_id)
        yield nodes
    finally:
        for node_id in list(nodes.processes):
            nodes.stop(node_id)
