"""`microhome release`: firmware bundles built with the real mpy-cross and loaded by the real
micropython."""

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from microhome_tools.cli import main
from microhome_tools.release import ReleaseError, build_bundle, firmware_version

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "micropython"
SHIPPED = REPO / "custom_components" / "microhome" / "firmware"


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A small firmware tree shaped like micropython/."""
    src = tmp_path / "src"
    files = {
        "main.py": "import home\n",
        "config.example.py": "NODE_ID = None\n",
        "sim/machine.py": "class Pin:\n    pass\n",
        "home/__init__.py": "NAME = 'home'\n",
        "home/version.py": 'VERSION = "1.2.3"\n',
        "home/mqtt.py": "from home.lib.util import double\n\n\ndef answer():\n"
        "    return double(21)\n\n\ndef fail():\n    raise ValueError('on purpose')\n",
        "home/lib/util.py": "def double(x):\n    return 2 * x\n",
    }
    for name, text in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    return src


def tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


def micropython(bundle: Path, code: str) -> str:
    """Run code on the real micropython with only the bundle on its path."""
    done = subprocess.run(
        ["micropython", "-X", "heapsize=64K", "-c", code],
        env=os.environ | {"MICROPYPATH": f"{bundle}:.frozen"},
        cwd=bundle.parent,  # not the sources: '' is on sys.path
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bundle_is_the_compiled_home_package_with_its_manifest(src: Path, tmp_path: Path) -> None:
    bundle = build_bundle(src, tmp_path / "out", None)

    assert bundle == tmp_path / "out" / "1.2.3"
    files = tree(bundle)
    assert sorted(files) == [
        "home/__init__.mpy",
        "home/lib/util.mpy",
        "home/mqtt.mpy",
        "home/version.mpy",
        "manifest.json",
    ]
    manifest = json.loads(files["manifest.json"])
    assert manifest == {
        "version": "1.2.3",
        "files": [
            {
                "path": path,
                "size": len(files[path]),
                "sha256": hashlib.sha256(files[path]).hexdigest(),
            }
            for path in sorted(files)
            if path != "manifest.json"
        ],
    }


def test_every_module_runs_on_micropython(src: Path, tmp_path: Path) -> None:
    bundle = build_bundle(src, tmp_path / "out", None)
    out = micropython(
        bundle,
        "import sys, home, home.version, home.mqtt\n"
        "print(home.NAME, home.version.VERSION, home.mqtt.answer(), home.mqtt.__file__)\n"
        "try:\n    home.mqtt.fail()\nexcept ValueError as err:\n    sys.print_exception(err)",
    )
    # Tracebacks on a node name the module as it is in the bundle, not the build machine's path.
    assert out.splitlines() == [
        f"home 1.2.3 42 {bundle}/home/mqtt.mpy",
        "Traceback (most recent call last):",
        '  File "<stdin>", line 4, in <module>',
        '  File "home/mqtt.py", line 9, in fail',
        "ValueError: on purpose",
    ]


def test_same_sources_give_the_same_bytes(src: Path, tmp_path: Path) -> None:
    elsewhere = shutil.copytree(src, tmp_path / "elsewhere" / "firmware")
    first = build_bundle(src, tmp_path / "a", None)
    second = build_bundle(elsewhere, tmp_path / "b", None)
    again = build_bundle(src, tmp_path / "a", None)
    assert tree(first) == tree(second)
    assert tree(again) == tree(second)


def test_rebuild_drops_removed_modules(src: Path, tmp_path: Path) -> None:
    build_bundle(src, tmp_path / "out", None)
    (src / "home/lib/util.py").unlink()
    (src / "home/mqtt.py").write_text("def answer():\n    return 42\n")
    bundle = build_bundle(src, tmp_path / "out", None)
    assert "home/lib/util.mpy" not in tree(bundle)
    paths = [entry["path"] for entry in json.loads((bundle / "manifest.json").read_text())["files"]]
    assert paths == ["home/__init__.mpy", "home/mqtt.mpy", "home/version.mpy"]


def test_module_that_does_not_compile_changes_nothing(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    before = tree(build_bundle(src, out, None))
    (src / "home/mqtt.py").write_text("def answer(:\n")
    with pytest.raises(ReleaseError, match=r"mpy-cross failed on home/mqtt\.py"):
        build_bundle(src, out, None)
    assert tree(out / "1.2.3") == before
    assert sorted(path.name for path in out.iterdir()) == ["1.2.3"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (None, "cannot read the firmware version"),
        ("VERSION = 3\n", "no VERSION = '...' string"),
        ('VERSION = "1.3"\n', "bad version '1.3'"),
        ('VERSION = "../1.3.0"\n', "bad version '../1.3.0'"),
    ],
)
def test_bad_version_is_refused(src: Path, tmp_path: Path, text: str | None, error: str) -> None:
    if text is None:
        (src / "home/version.py").unlink()
    else:
        (src / "home/version.py").write_text(text)
    with pytest.raises(ReleaseError, match=error):
        build_bundle(src, tmp_path / "out", None)
    assert not (tmp_path / "out").exists()


def test_cli_with_version_notes_and_clean(
    src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    build_bundle(src, out, "1.0.0")
    (out / "unrelated").mkdir()
    notes = tmp_path / "notes.md"
    notes.write_text("# 2.0.0\n\nFaster sensors.\n")

    argv = ["release", "--src", str(src), "--out", str(out), "--version", "2.0.0"]
    assert main([*argv, "--notes", str(notes), "--clean"]) == 0

    bundle = out / "2.0.0"
    size = sum(len(data) for path, data in tree(bundle).items() if path.startswith("home/"))
    assert capsys.readouterr().out == (
        f"{bundle}: 4 files, {size} bytes\nremoved {out / '1.0.0'}\n"
    )
    assert (bundle / "notes.md").read_text() == "# 2.0.0\n\nFaster sensors.\n"
    assert json.loads((bundle / "manifest.json").read_text())["version"] == "2.0.0"
    assert sorted(path.name for path in out.iterdir()) == ["2.0.0", "unrelated"]


def test_cli_reports_errors(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["release", "--src", str(src), "--out", str(tmp_path / "out"), "--version", "v2"]
    assert main(argv) == 1
    assert "bad version 'v2'" in capsys.readouterr().err


def test_real_firmware_bundle_loads_on_micropython(tmp_path: Path) -> None:
    version = firmware_version(FIRMWARE)
    bundle = build_bundle(FIRMWARE, tmp_path, None)
    files = tree(bundle)
    assert "main.py" not in files
    assert not [path for path in files if path.endswith(".py")]
    assert not [path for path in files if path.startswith(("sim/", "config"))]
    out = micropython(bundle, "import home.version, home.lib.ftp\nprint(home.version.VERSION)")
    assert out == f"{version}\n"


def test_shipped_bundle_is_the_current_firmware(tmp_path: Path) -> None:
    # The integration ships the bundle of its own firmware version; rebuild it with
    # `microhome release --out custom_components/microhome/firmware --clean`.
    version = firmware_version(FIRMWARE)
    assert sorted(path.name for path in SHIPPED.iterdir()) == [version]
    fresh = build_bundle(FIRMWARE, tmp_path, None)
    assert tree(SHIPPED / version) == tree(fresh)


def test_a_version_given_is_the_version_the_node_announces(tmp_path: Path) -> None:
    bundle = build_bundle(FIRMWARE, tmp_path, "7.8.9")
    out = subprocess.run(
        ["micropython", "-c", "from home.version import VERSION; print(VERSION)"],
        env={**os.environ, "MICROPYPATH": f"{bundle}:.frozen"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "7.8.9"
