"""The `microhome` command: one sub-command per module of this package."""

import argparse
import importlib
import sys

# sub-command -> (module, help). Each module has add_arguments(parser) and run(args) -> int.
COMMANDS = {
    "sim": ("sim", "run the real firmware on the micropython unix port with simulated hardware"),
    "flash": ("flash", "copy the firmware and a generated config.py to a board with mpremote"),
    "flash-micropython": ("flash", "flash MicroPython itself onto an ESP32 with esptool"),
    "catalogue": ("catalogue", "regenerate the firmware table and texts from the catalogue"),
    "release": ("release", "build a firmware bundle (mpy-cross + manifest.json)"),
    "demo": ("demo", "run Home Assistant, a broker and three simulated nodes"),
    "bench": ("bench", "measure speed and memory"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="microhome", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(f"microhome_tools.{module_name}")
        except ModuleNotFoundError as err:
            if err.name != f"microhome_tools.{module_name}":
                raise
            continue
        command = sub.add_parser(name, help=help_text, description=help_text)
        adder = getattr(module, f"add_{name.replace('-', '_')}_arguments", module.add_arguments)
        adder(command)
        command.set_defaults(run=getattr(module, f"run_{name.replace('-', '_')}", module.run))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
