"""benchmarks/results.json and benchmarks/RESULTS.md from one `microhome bench` run, and
README's "Measured" comparison (between README_BEGIN and README_END) from results.json.

RESULTS.md is written anew each run, except its hand-written analysis: everything from the
heading ANALYSIS_HEADING on is carried over from the previous file.
"""

from __future__ import annotations

import datetime
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from microhome_tools.repo import repository_root

ANALYSIS_HEADING = "## Where MicroHome loses"
README_BEGIN = "<!-- measured: written by microhome bench from benchmarks/results.json -->"
README_END = "<!-- end of measured -->"

COMPARE_ROWS = [
    ("state_to_ha_ms", "node state message → HA state (ms)"),
    ("light_round_trip_standin_ms", "`light.turn_on` → state confirmed, stand-in node (ms)"),
    ("light_round_trip_firmware_ms", "`light.turn_on` → state confirmed, real firmware (ms)"),
    ("pin_edge_to_ha_ms", "real-firmware pin edge → HA state (ms)"),
]
SCALE_ROWS = [
    ("add_seconds", "time to add them until all live (s)", None),
    ("not_live_when_given_up", "nodes not live when the bench gave up waiting", None),
    ("memory_per_node_kb", "HA memory per node added (KB, RSS delta)", None),
    ("loop_lag_adding_ms", "event-loop lag while adding (ms)", "p99"),
    ("state_held_back_ms", "a live node's state held back while adding (ms)", "p99"),
    ("loop_lag_running_ms", "event-loop lag while running (ms)", "p99"),
    ("states_dropped", "dropped states (of sent)", None),
]


# Every part `microhome bench --only` names, each a key of results.json.
PARTS = ("bundle", "firmware", "logs", "heap", "tls", "ota", "compare", "scale")


def default_out() -> Path:
    return repository_root() / "benchmarks"


def write(args: Any, chosen: list[str], results: dict[str, Any], machine: dict[str, Any]) -> Path:
    """Write both files into args.out (default: the checkout's benchmarks/); return the dir."""
    out: Path = args.out or default_out()
    out.mkdir(parents=True, exist_ok=True)
    carried, earlier_runs = carried_over(out / "results.json", chosen)
    if "heap" in results:  # a run of one micropython keeps the other's figures
        results = {**results, "heap": {**heap_by_bits(earlier_heap(out)), **results["heap"]}}
    document = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "command": command_line(),
        "parts": chosen,
        **carried,
        **results,
    }
    if earlier_runs:
        document["earlier_runs"] = earlier_runs
    (out / "results.json").write_text(json.dumps(document, indent=2) + "\n")
    markdown = out / "RESULTS.md"
    analysis = ""
    if markdown.exists():
        text = markdown.read_text()
        if ANALYSIS_HEADING in text:
            analysis = text[text.index(ANALYSIS_HEADING) :]
    markdown.write_text(render(document) + ("\n" + analysis if analysis else ""))
    if out.resolve() == default_out().resolve():
        readme = repository_root() / "README.md"
        readme.write_text(with_measured(readme.read_text(), document))
    return out


def carried_over(path: Path, chosen: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The parts of an earlier results.json that this run does not measure (`--only`), and
    for each the run it came from (its date and command): a partial run keeps the others."""
    try:
        earlier = json.loads(path.read_text())
    except OSError, ValueError:
        return {}, {}
    if not isinstance(earlier, dict):
        return {}, {}
    runs = earlier.get("earlier_runs") or {}
    carried: dict[str, Any] = {}
    earlier_runs: dict[str, dict[str, Any]] = {}
    for part in PARTS:
        if part in chosen or part not in earlier:
            continue
        carried[part] = earlier[part]
        earlier_runs[part] = runs.get(part) or {
            "date": earlier.get("date"),
            "command": earlier.get("command"),
        }
    return carried, earlier_runs


def earlier_heap(out: Path) -> dict[str, Any]:
    try:
        heap = json.loads((out / "results.json").read_text()).get("heap")
    except OSError, ValueError, AttributeError:
        return {}
    return heap if isinstance(heap, dict) else {}


def heap_by_bits(heap: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The heap part as {"32": figures, "64": figures}; older files had one build's, flat."""
    if "bits" in heap:
        return {str(heap["bits"]): heap}
    return {bits: figures for bits, figures in heap.items() if isinstance(figures, dict)}


def earlier_runs(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The parts carried over from earlier runs, grouped by run: ("the logs and heap
    parts are", date, command) each."""
    by_run: dict[tuple[str, str], list[str]] = {}
    for part, run in (document.get("earlier_runs") or {}).items():
        by_run.setdefault((str(run.get("date")), str(run.get("command"))), []).append(part)
    grouped = []
    for (date, command), parts in by_run.items():
        names = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        verb = "part is" if len(parts) == 1 else "parts are"
        grouped.append((f"{names} {verb}", date, command))
    return grouped


def command_line() -> str:
    return "scripts/env microhome bench " + shlex.join(sys.argv[2:] if len(sys.argv) > 2 else [])


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def ratio(ours: Any, theirs: Any) -> str:
    if not isinstance(ours, int | float) or not isinstance(theirs, int | float) or not theirs:
        return "—"
    return f"{ours / theirs:.2f}x"


def render(document: dict[str, Any]) -> str:
    machine = document["machine"]
    lines = [
        "# MicroHome bench results",
        "",
        f"Run {document['date']} on {machine['cores']} cores ({machine['cpu']}), "
        f"{machine['memory_gb']} GB memory, Python {machine['python']}. The machine is shared "
        "with other work and noisy: read the figures as orders of magnitude and ratios, "
        "not as exact values.",
        "",
        "Reproduce (from the repository's root; the profile is a separate run, see below):",
        "",
        f"    {document['command']}",
        "",
    ]
    for parts, date, command in earlier_runs(document):
        lines += [
            f"The {parts} from an earlier run ({date}; this run did not measure them): "
            f"`{command}`.",
            "",
        ]
    lines += [
        "One Home Assistant core (in the bench process, real `mqtt` integration, MicroHome "
        "from this checkout) and one mosquitto for the whole run. The peer is what a user would "
        "otherwise make: HA's own MQTT discovery entities (a JSON-schema light with brightness, "
        "an on/off light, temperature and humidity sensors, a motion binary_sensor, with "
        "availability) fed by an echo client that answers each light's command topic with its "
        "state. MicroHome's side is fed by stand-in nodes (`microhome_tools/standin.py`: "
        "announce, status, signed `config/set` verified and answered on `config/state`, "
        "states, telemetry, signed `cmd` answered with the state and a `reply`) and by the "
        "real firmware under `microhome sim`. Stand-ins and echo client share one MQTT "
        "connection in a separate process. Ratios are MicroHome ÷ peer.",
        "",
    ]
    if error := document.get("error"):
        lines += [
            f"**The run stopped early**: {error}. What follows is what it measured before.",
            "",
        ]
    if compare := document.get("compare"):
        lines += [
            "## Latency",
            "",
            "| | MicroHome p50 / p95 / max | peer p50 / p95 / max | ratio p50 / p95 | samples |",
            "|---|---|---|---|---|",
        ]
        for key, label in COMPARE_ROWS:
            if key not in compare:
                continue
            ours, theirs = compare[key]["microhome"], compare[key]["peer"]
            lines.append(
                f"| {label} | {triple(ours)} | {triple(theirs)} | "
                f"{ratio(ours.get('p50'), theirs.get('p50'))} / "
                f"{ratio(ours.get('p95'), theirs.get('p95'))} | {ours.get('samples')} |"
            )
        lines += [
            "",
            "The pin edge's peer is the echo client publishing the same motion state (there is "
            "no peer firmware); the simulated pin is polled every 20 ms, on a board the IRQ "
            "fires at once.",
            "",
        ]
    if scale := document.get("scale"):
        lines += ["## Scale", ""]
        for count, sides in scale.items():
            ours, theirs = sides["microhome"], sides["peer"]
            lines += [
                f"### {count} nodes ({ours.get('added', 0)} added in this step)",
                "",
                "| | MicroHome | peer | ratio |",
                "|---|---|---|---|",
            ]
            for key, label, pick in SCALE_ROWS:
                a, b = ours.get(key), theirs.get(key)
                shown = label
                if pick:
                    a = a.get(pick) if isinstance(a, dict) else None
                    b = b.get(pick) if isinstance(b, dict) else None
                    shown = f"{label}, {pick}"
                if key == "states_dropped":
                    lines.append(
                        f"| {shown} | {fmt(a)} of {fmt(ours.get('states_sent'))} | "
                        f"{fmt(b)} of {fmt(theirs.get('states_sent'))} | — |"
                    )
                else:
                    lines.append(f"| {shown} | {fmt(a)} | {fmt(b)} | {ratio(a, b)} |")
            lines.append("")
        lines += [
            "Nodes are added in steps on the same Home Assistant (the larger count adds the "
            "difference). MicroHome's nodes come through its real discovery config flow (one "
            "flow per retained announce, confirmed as a user would, then given four sensors the "
            "way the options flow saves them, which pushes a signed configuration); the peer's "
            'through MQTT discovery. "Live" is: the node\'s lamp has a state that is neither '
            "unavailable nor unknown. While adding, a live node publishes a new temperature "
            'every 50 ms; "held back" is how long that takes to reach its HA state. While '
            "running, every node publishes one new temperature a second.",
            "",
        ]
    if logs := document.get("logs"):
        lines += [
            "## Log ingestion (MicroHome only: HA's MQTT entities have no node logs)",
            "",
            f"{logs['entries_per_second']} entries/s from {logs['nodes']} nodes for "
            f"{logs['seconds']} s: event-loop delay p99 {logs['loop_delay_p99_ms']} ms, max "
            f"{logs['loop_delay_max_ms']} ms, median {logs['loop_delay_median_ms']} ms "
            f"({logs['entries_ingested']} entries ingested, {logs['saves']} saves).",
            "",
        ]
    if ota := document.get("ota"):
        lines += ota_section(ota)
    for key, title in (
        ("firmware", "Firmware alone (MicroHome only, real micropython on mosquitto)"),
        ("heap", "Smallest heap for each job (MicroHome only, 4 KB steps)"),
        ("bundle", "Firmware bundle"),
    ):
        if measured := document.get(key):
            lines += [f"## {title}", "", "```json", json.dumps(measured, indent=2), "```", ""]
    return "\n".join(lines)


def ota_section(ota: dict[str, Any]) -> list[str]:
    """RESULTS.md's OTA part: per-node times, the fleet's, failures and the phases."""
    single, fleet = ota.get("one_node", {}), ota.get("fleet", {})
    bundle = ota.get("bundle", {})
    lines = [
        "## OTA (MicroHome only: Home Assistant's MQTT entities have no OTA, so no peer)",
        "",
        f"Real firmware nodes (`microhome sim`, {fmt(ota.get('micropython_bits'))}-bit "
        f"micropython, {fmt(ota.get('heapsize'))} heap, no peripherals configured) updated from "
        f"{fmt(ota.get('from_version'))} to newer versions of the same firmware (bundle: "
        f"{fmt(bundle.get('files'))} files, {fmt(bundle.get('kb'))} KB) through Home Assistant "
        "(a core and a mosquitto of their own, in a process of its own): one node by the update "
        "entity's install, then nodes at once by `microhome.ota_update`, each version in turn. "
        "MicroHome's own FTP server serves the bundle on loopback. A node's time runs from the "
        "service call to its `ota/status` `done` with the new version (the new firmware booted "
        "on trial, reached the broker and confirmed itself), as a client on the broker sees it. "
        "The download phase is the plain copy of the bundle (the floor); the rest is the node's "
        "two resets, its reports and Home Assistant's part. Under `microhome sim` a reset "
        "restarts the process at once and Wi-Fi is up at once; on a board each reset and Wi-Fi "
        "join adds seconds.",
        "",
    ]
    if error := ota.get("error"):
        lines += [f"**The OTA part stopped early**: {error}.", ""]
    parts = [
        (label, part)
        for label, part in (
            ("one node", single),
            (f"{fleet.get('nodes')} nodes at once (concurrency {fleet.get('concurrency')})", fleet),
        )
        if part
    ]
    if not parts:
        return lines
    lines += [
        "| | updates | per node p50 / p95 / max (s) | all confirmed p50 / max (s) | "
        "service returned p50 (s) | failed |",
        "|---|---|---|---|---|---|",
    ]
    for label, part in parts:
        confirmed = part.get("all_confirmed_s", {})
        lines.append(
            f"| {label} | {fmt(part.get('updates'))} | {triple(part.get('update_s', {}))} | "
            f"{fmt(confirmed.get('p50'))} / {fmt(confirmed.get('max'))} | "
            f"{fmt(part.get('service_returned_s', {}).get('p50'))} | {fmt(part.get('failed'))} |"
        )
    lines += [
        "",
        "Where the time goes, per node (p50 / max, s), from what the node publishes:",
        "",
        "| phase | ends at | " + " | ".join(label for label, _ in parts) + " |",
        "|---|---|" + "---|" * len(parts),
    ]
    for name, ends in ota.get("phases", []):
        shown = [
            " / ".join(fmt(part.get("phases_s", {}).get(name, {}).get(k)) for k in ("p50", "max"))
            for _, part in parts
        ]
        lines.append(f"| {name} | {ends} | " + " | ".join(shown) + " |")
    lines.append("")
    return lines


def triple(values: dict[str, Any]) -> str:
    return " / ".join(fmt(values.get(key)) for key in ("p50", "p95", "max"))


# A target: ("<", bound) below bound, ("x", factor) at most factor times the peer, ("none", 0).
type Target = tuple[str, float]
MEASURED_COMPARE: list[tuple[str, str, str, list[Target]]] = [
    ("node state message → HA state", "state_to_ha_ms", "p50", []),
    ("`light.turn_on` → state confirmed, real firmware", "light_round_trip_firmware_ms", "p50",
     [("<", 10.0), ("x", 3.0)]),
    ("`light.turn_on` → state confirmed, real firmware", "light_round_trip_firmware_ms", "p95",
     [("<", 20.0), ("x", 3.0)]),
    ("`light.turn_on` → state confirmed, stand-in node", "light_round_trip_standin_ms", "p50",
     [("<", 10.0), ("x", 3.0)]),
    ("`light.turn_on` → state confirmed, stand-in node", "light_round_trip_standin_ms", "p95",
     [("<", 20.0), ("x", 3.0)]),
    ("real-firmware pin edge → HA state", "pin_edge_to_ha_ms", "p50", []),
]  # fmt: skip
MEASURED_SCALE: list[tuple[str, str, str | None, list[Target]]] = [
    ("event-loop lag while adding (ms)", "loop_lag_adding_ms", "p99", [("<", 50.0)]),
    ("event-loop lag while running (ms)", "loop_lag_running_ms", "p99", [("<", 50.0)]),
    ("a live node's state held back while adding (ms)", "state_held_back_ms", "p99",
     [("<", 50.0)]),
    ("HA memory per node (KB)", "memory_per_node_kb", None, [("x", 1.2)]),
    ("time to add them until all live (s)", "add_seconds", None, [("x", 1.2)]),
    ("dropped states", "states_dropped", None, [("none", 0)]),
]  # fmt: skip


def verdict(ours: Any, theirs: Any, targets: list[Target]) -> tuple[str, str]:
    """The targets as text, and whether the figures meet them (yes / no / —)."""
    if not targets:
        return "—", "—"
    shown, met = [], []
    for kind, bound in targets:
        if kind == "none":
            shown.append("none")
            met.append(ours == 0)
        elif kind == "<":
            shown.append(f"< {bound:g}")
            met.append(isinstance(ours, int | float) and ours < bound)
        else:
            shown.append(f"≤ {bound:g}x peer")
            met.append(
                isinstance(ours, int | float)
                and isinstance(theirs, int | float)
                and ours <= bound * theirs
            )
    return ", ".join(shown), "yes" if all(met) else "**no**"


def measured_rows(document: dict[str, Any]) -> list[list[str]]:
    """README's comparison: what, MicroHome, peer, ratio, target, met."""
    rows: list[list[str]] = []
    compare = document.get("compare", {})
    for label, key, pick, targets in MEASURED_COMPARE:
        if key not in compare:
            continue
        ours, theirs = compare[key]["microhome"].get(pick), compare[key]["peer"].get(pick)
        rows.append(
            [f"{label}, {pick} (ms)", fmt(ours), fmt(theirs), ratio(ours, theirs),
             *verdict(ours, theirs, targets)]
        )  # fmt: skip
    for count, sides in document.get("scale", {}).items():
        for label, key, pick, targets in MEASURED_SCALE:
            ours, theirs = sides["microhome"].get(key), sides["peer"].get(key)
            if pick:
                ours = ours.get(pick) if isinstance(ours, dict) else None
                theirs = theirs.get(pick) if isinstance(theirs, dict) else None
            shown = f"{count} nodes: {label}" + (f", {pick}" if pick else "")
            if key == "states_dropped":
                sent = (sides["microhome"].get("states_sent"), sides["peer"].get("states_sent"))
                rows.append(
                    [shown, f"{fmt(ours)} of {fmt(sent[0])}", f"{fmt(theirs)} of {fmt(sent[1])}",
                     "—", *verdict(ours, theirs, targets)]
                )  # fmt: skip
            else:
                rows.append(
                    [shown, fmt(ours), fmt(theirs), ratio(ours, theirs),
                     *verdict(ours, theirs, targets)]
                )  # fmt: skip
    if logs := document.get("logs"):
        rows.append(
            [f"log ingestion, {logs['entries_per_second']} entries/s from {logs['nodes']} "
             "nodes: event-loop delay p99 (ms)", fmt(logs["loop_delay_p99_ms"]), "—", "—",
             *verdict(logs["loop_delay_p99_ms"], None, [("<", 50.0)])]
        )  # fmt: skip
    rows += ota_rows(document.get("ota") or {})
    if firmware := document.get("firmware"):
        rows += [
            [f"firmware alone ({firmware['heapsize']} heap): {label}", fmt(value), "—", "—",
             "—", "—"]
            for label, value in (
                ("boot to `online` (s)", firmware["boot_to_online_s"]),
                ("configuration applied, `config/set` to `config/state` (s)",
                 firmware["config_applied_s"]),
                ("motion edge to `state`, median (ms)",
                 firmware["motion_edge_to_state_ms"]["median"]),
                ("light command to state echo, median (ms)",
                 firmware["light_command_to_echo_ms"]["median"]),
            )
        ]  # fmt: skip
    for bits, heap in sorted(heap_by_bits(document.get("heap") or {}).items()):
        rows += [
            [f"smallest board heap, {bits}-bit build: {job}", str(found), "—", "—", "—", "—"]
            for job, found in heap.items()
            if job not in ("micropython", "bits")
        ]
    if bundle := document.get("bundle"):
        rows.append(
            [f"firmware bundle ({bundle['version']}): modules, KB of `.mpy` (KB in all)",
             f"{bundle['modules']}, {bundle['modules_bytes'] / 1024:.1f} "
             f"({bundle['total_bytes'] / 1024:.1f})", "—", "—", "—", "—"]
        )  # fmt: skip
    return rows


def ota_rows(ota: dict[str, Any]) -> list[list[str]]:
    """README's OTA rows: MicroHome alone (there is no peer)."""
    rows: list[list[str]] = []
    single, fleet = ota.get("one_node"), ota.get("fleet")
    if single:
        rows.append(
            ["OTA, one node: update → new version confirmed, p50 / p95 / max (s)",
             triple(single["update_s"]), "—", "—", "—", "—"]
        )  # fmt: skip
    if fleet:
        nodes = fleet["nodes"]
        rows += [
            [f"OTA, {nodes} nodes at once: each node, p50 / p95 / max (s)",
             triple(fleet["update_s"]), "—", "—", "—", "—"],
            [f"OTA, {nodes} nodes at once: until all {nodes} confirmed, p50 / max (s)",
             f"{fmt(fleet['all_confirmed_s'].get('p50'))} / "
             f"{fmt(fleet['all_confirmed_s'].get('max'))}", "—", "—", "—", "—"],
        ]  # fmt: skip
    if single or fleet or ota.get("error"):
        failed = sum(part.get("failed", 0) for part in (single or {}, fleet or {}))
        tried = sum(part.get("updates", 0) for part in (single or {}, fleet or {}))
        if ota.get("error"):
            failed = None  # stopped early: not a figure to meet the target with
        rows.append(
            ["OTA: failed updates", f"{fmt(failed)} of {tried}", "—", "—",
             *verdict(failed, None, [("none", 0)])]
        )  # fmt: skip
    return rows


def measured_table(document: dict[str, Any]) -> str:
    """The README block between README_BEGIN and README_END (markers included)."""
    machine = document["machine"]
    earlier = "".join(
        f"; the {parts} from `{command}`, {date[:10]}"
        for parts, date, command in earlier_runs(document)
    )
    lines = [
        README_BEGIN,
        "",
        f"MicroHome beside Home Assistant's own MQTT entities, in one Home Assistant and one "
        f"mosquitto (`{document['command']}`, {document['date'][:10]}, {machine['cores']} "
        f"cores{earlier}; details and the method in "
        "[benchmarks/RESULTS.md](benchmarks/RESULTS.md)):",
        "",
        "| what | MicroHome | HA MQTT entities | ratio | target | met |",
        "|---|---|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in measured_rows(document)),
        "",
        README_END,
    ]
    return "\n".join(lines)


def with_measured(readme: str, document: dict[str, Any]) -> str:
    """readme with its measured block replaced by the one document makes."""
    if README_BEGIN not in readme or README_END not in readme:
        raise ValueError(f"README.md has no {README_BEGIN!r} ... {README_END!r} block")
    start = readme.index(README_BEGIN)
    end = readme.index(README_END) + len(README_END)
    return readme[:start] + measured_table(document) + readme[end:]
