"""The OTA bench's reading of what a node publishes during an update, and its report rows.

The real run (real firmware, Home Assistant, mosquitto, FTP) is in test_bench_smoke.py.
"""

import json

from microhome_tools import bench_report
from microhome_tools.bench_ota import PHASES, next_versions, phase_marks, phase_seconds


def status(state: str, version: str = "0.1.1", progress: int = 0) -> bytes:
    body = {"state": state, "version": version, "progress": progress, "error": None}
    return json.dumps(body).encode()


NODE = "microhome/mh-ota-fleet-1/"
# What a client on the broker gets while node mh-ota-fleet-1 updates from 0.1.0 to 0.1.1,
# started at 100.0, with what came before and another node's messages mixed in.
UPDATE = [
    (99.0, NODE + "ota/status", status("downloading")),  # an earlier update's report
    (99.5, NODE + "status", b"online"),
    (100.02, NODE + "reply", b'{"n": 1, "ok": true}'),
    (100.03, NODE + "ota/status", status("downloading")),  # the application accepted it
    (100.04, "microhome/mh-ota-fleet-2/ota/status", status("downloading")),
    (100.6, NODE + "status", b"offline"),
    (100.7, NODE + "ota/status", status("downloading")),  # the updater's first report
    (100.75, NODE + "ota/status", b"\xff not json"),
    (100.8, NODE + "ota/status", b"[1, 2]"),
    (100.9, NODE + "ota/status", status("downloading", progress=50)),
    (101.0, NODE + "ota/status", status("verifying")),
    (101.02, NODE + "ota/status", status("applying")),
    (101.05, NODE + "ota/status", status("rebooting", progress=100)),
    (101.1, "microhome/mh-ota-fleet-2/status", b"online"),
    (101.2, NODE + "status", b"online"),
    (101.21, NODE + "ota/status", status("done", version="0.1.0")),  # not the version asked
    (101.25, NODE + "ota/status", status("done", version="0.1.1", progress=100)),
    (101.3, NODE + "status", b"online"),
]


def test_the_phases_of_an_update_come_from_the_nodes_own_messages() -> None:
    marks = phase_marks(UPDATE, "mh-ota-fleet-1", "0.1.1", 100.0)
    assert marks == [100.03, 100.7, 101.0, 101.05, 101.2, 101.25]
    assert phase_seconds(100.0, marks) == {
        "command": 0.03,
        "reboot_to_updater": 0.67,
        "download": 0.3,
        "verify": 0.05,
        "reboot_to_trial": 0.15,
        "confirm": 0.05,
    }
    assert [name for name, _ in PHASES] == list(phase_seconds(100.0, marks))


def test_an_update_not_confirmed_has_no_end_and_no_phase_after_what_was_seen() -> None:
    """The node reset into the updater and was not heard of again."""
    seen = [message for message in UPDATE if message[0] <= 100.6]
    marks = phase_marks(seen, "mh-ota-fleet-1", "0.1.1", 100.0)
    assert marks == [100.03, None, None, None, None, None]
    spans = phase_seconds(100.0, marks)
    assert spans["command"] == 0.03
    assert all(spans[name] is None for name, _ in PHASES[1:])
    assert phase_marks(UPDATE, "mh-ota-fleet-1", "0.1.2", 100.0)[-1] is None
    assert phase_marks(UPDATE, "mh-ota-fleet-3", "0.1.1", 100.0) == [None] * len(PHASES)


def test_the_versions_updated_to_count_up_from_the_firmwares() -> None:
    assert next_versions("0.1.0", 3) == ["0.1.1", "0.1.2", "0.1.3"]
    assert next_versions("1.4.9-rc.1", 1) == ["1.4.10"]


def ota_document(failed: int = 0, error: str | None = None) -> dict[str, object]:
    times = {"p50": 1.1, "p95": 1.3, "p99": 1.3, "max": 1.4, "samples": 10}
    ota: dict[str, object] = {
        "phases": [list(phase) for phase in PHASES],
        "one_node": {"updates": 10, "update_s": times, "failed": 0, "phases_s": {}},
        "fleet": {
            "nodes": 10,
            "concurrency": 10,
            "updates": 100,
            "update_s": times,
            "all_confirmed_s": {"p50": 1.5, "max": 1.9, "samples": 10},
            "service_returned_s": {"p50": 1.6},
            "failed": failed,
            "phases_s": {"download": {"p50": 0.3, "max": 0.5}},
        },
    }
    if error:
        ota["error"] = error
    return {"ota": ota}


def test_readme_rows_show_the_times_and_every_failed_update_as_a_missed_target() -> None:
    rows = bench_report.measured_rows(ota_document())
    assert ["OTA, one node: update → new version confirmed, p50 / p95 / max (s)",
            "1.1 / 1.3 / 1.4", "—", "—", "—", "—"] in rows  # fmt: skip
    assert ["OTA, 10 nodes at once: until all 10 confirmed, p50 / max (s)",
            "1.5 / 1.9", "—", "—", "—", "—"] in rows  # fmt: skip
    assert rows[-1] == ["OTA: failed updates", "0 of 110", "—", "—", "none", "yes"]
    assert bench_report.measured_rows(ota_document(failed=1))[-1][1:] == [
        "1 of 110", "—", "—", "none", "**no**"
    ]  # fmt: skip
    stopped = bench_report.measured_rows(ota_document(error="TimeoutError: nodes online"))
    assert stopped[-1][1:] == ["— of 110", "—", "—", "none", "**no**"]


def test_results_md_has_the_ota_table_and_its_phases() -> None:
    lines = bench_report.ota_section(ota_document(error="TimeoutError: x")["ota"])  # type: ignore[arg-type]
    text = "\n".join(lines)
    assert "no peer" in text
    assert "**The OTA part stopped early**: TimeoutError: x." in text
    assert (
        "| 10 nodes at once (concurrency 10) | 100 | 1.1 / 1.3 / 1.4 | 1.5 / 1.9 | 1.6 | 0 |"
        in text
    )
    download = next(line for line in lines if line.startswith("| download |"))
    assert download.endswith("| — / — | 0.3 / 0.5 |")


def test_results_md_of_an_ota_part_that_measured_nothing_says_why_and_shows_no_table() -> None:
    lines = bench_report.ota_section({"error": "TimeoutError: nodes not discovered"})
    text = "\n".join(lines)
    assert "**The OTA part stopped early**: TimeoutError: nodes not discovered." in text
    assert "|" not in text and "None" not in text
