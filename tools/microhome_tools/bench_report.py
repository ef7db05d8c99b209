"""benchmarks/results.json and benchmarks/RESULTS.md from one `microhome bench` run."""

from __future__ import annotations

import json
from typing import Any


def write(args: Any, chosen: list[str], results: dict[str, Any], machine: dict[str, Any]) -> None:
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"machine": machine, **results}, indent=2) + "\n")
