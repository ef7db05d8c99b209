"""`microhome release`: build a firmware bundle, the unit of an OTA update.

A bundle is a directory `<out>/<version>/` holding every module of the `home` package compiled
with mpy-cross (`home/**/*.mpy`), `manifest.json` ({"version", "files": [{"path", "size",
"sha256"}, ...]}, sorted by path) and, when given, `notes.md`. `main.py` is not in a bundle: it
is the small boot file OTA never replaces (`microhome flash` copies it). Neither are
`config.example.py` nor the simulator (`sim/`). The same sources always give the same bytes.
"""

import argparse
import ast
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from microhome_tools import FIRMWARE_DIR, REPO
from microhome_tools.catalogue import write_firmware_table

PACKAGE = "home"
VERSION_FILE = Path(PACKAGE) / "version.py"
# Also the bundle's directory name and its FTP path: digits, dots and a simple suffix only.
VERSION_RE = re.compile(r"\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.]+)?")


class ReleaseError(Exception):
    """The bundle cannot be built; nothing was written."""


def firmware_version(src: Path) -> str:
    """`VERSION = "x.y.z"` from home/version.py, read without running it."""
    path = src / VERSION_FILE
    try:
        tree = ast.parse(path.read_text(), str(path))
    except (OSError, SyntaxError) as err:
        raise ReleaseError(f"cannot read the firmware version: {err}") from err
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(target, "id", None) for target in node.targets] == ["VERSION"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise ReleaseError(f"{path}: no VERSION = '...' string")


def check_version(version: str) -> str:
    if not VERSION_RE.fullmatch(version):
        raise ReleaseError(f"bad version {version!r}: expected MAJOR.MINOR.PATCH, e.g. 1.3.0")
    return version


def package_modules(src: Path) -> list[Path]:
    """The `home` package's modules, relative to src, in a stable order."""
    package = src / PACKAGE
    if not package.is_dir():
        raise ReleaseError(f"{package}: no firmware package")
    return sorted(
        path.relative_to(src)
        for path in package.rglob("*.py")
        if "__pycache__" not in path.parts and not path.name.startswith(".")
    )


def compile_module(src: Path, module: Path, target: Path) -> None:
    # -s embeds the path inside the bundle rather than this machine's absolute path, so
    # tracebacks on the node read home/x.py and the bytes do not depend on where src is.
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "mpy_cross", "-s", module.as_posix(), "-o", str(target)]
    done = subprocess.run(
        [*command, str(src / module)], capture_output=True, text=True, check=False
    )
    if done.returncode or not target.is_file():
        raise ReleaseError(f"mpy-cross failed on {module}:\n{done.stderr or done.stdout}")


def manifest_bytes(version: str, root: Path) -> bytes:
    files = [
        {
            "path": path.relative_to(root).as_posix(),
            "size": path.stat().st_size,
            "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix())
        if path.is_file()
    ]
    manifest = {"version": version, "files": files}
    # Compact: the node parses it in a small heap.
    return json.dumps(manifest, separators=(",", ":")).encode() + b"\n"


def build_bundle(src: Path, out: Path, version: str | None, notes: Path | None = None) -> Path:
    """Build `<out>/<version>/` from the firmware tree `src` and return its path.

    The bundle is built aside and moved into place whole, replacing an older build of the
    same version; on any error nothing under `out` changes.
    """
    if src.resolve() == FIRMWARE_DIR.resolve():
        write_firmware_table(src)  # the peripheral table as the catalogue says now
    version = check_version(version or firmware_version(src))
    modules = package_modules(src)
    notes_text = notes.read_bytes() if notes else None
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=f".{version}-") as tmp:
        staging = Path(tmp) / version
        for module in modules:
            compile_module(src, module, staging / module.with_suffix(".mpy"))
        if version != firmware_version(src):
            # The node announces what home/version.py says: make it say this bundle's version.
            relabelled = Path(tmp) / "src"
            (relabelled / VERSION_FILE).parent.mkdir(parents=True)
            (relabelled / VERSION_FILE).write_text(f'VERSION = "{version}"\n')
            compile_module(relabelled, VERSION_FILE, staging / VERSION_FILE.with_suffix(".mpy"))
        manifest = manifest_bytes(version, staging)
        (staging / "manifest.json").write_bytes(manifest)
        if notes_text is not None:
            (staging / "notes.md").write_bytes(notes_text)
        bundle = out / version
        if bundle.exists():
            shutil.rmtree(bundle)
        staging.rename(bundle)
    return bundle


def remove_other_versions(out: Path, keep: str) -> list[str]:
    """Delete the other bundles (directories with a manifest.json) in `out`."""
    removed = []
    for path in sorted(out.iterdir()):
        if path.name != keep and path.is_dir() and (path / "manifest.json").is_file():
            shutil.rmtree(path)
            removed.append(path.name)
    return removed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", help="default: VERSION in micropython/home/version.py")
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "build" / "firmware",
        help="where <version>/ is written (default: build/firmware); the integration ships"
        " custom_components/microhome/firmware",
    )
    parser.add_argument("--notes", type=Path, help="release notes (Markdown), saved as notes.md")
    parser.add_argument(
        "--clean", action="store_true", help="remove the other versions' bundles from --out"
    )
    parser.add_argument("--src", type=Path, default=FIRMWARE_DIR, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    try:
        bundle = build_bundle(args.src, args.out, args.version, args.notes)
    except (ReleaseError, OSError) as err:
        print(f"microhome release: {err}", file=sys.stderr)
        return 1
    files = json.loads((bundle / "manifest.json").read_text())["files"]
    size = sum(entry["size"] for entry in files)
    print(f"{bundle}: {len(files)} files, {size} bytes")
    if args.clean:
        for version in remove_other_versions(args.out, bundle.name):
            print(f"removed {args.out / version}")
    return 0
