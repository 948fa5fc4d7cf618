"""The `footbath` command: one entry point for the service, the kiosk and the staff's tools."""

from __future__ import annotations

import argparse
import sys
from importlib import metadata

from routines.model import CEILING_C, ILLUSTRATIONS

from .config import DEFAULT_PATH, ENV_VAR, load_config
from .errors import ConfigError, KioskError

ROUTINE_FORMAT = f"""\
routine files (YAML, one routine per file, in paths.routines_dir):
  id            lower-case letters, digits, - and _ (a file with a shipped id overrides it)
  name          up to 40 characters; description: one line, up to 120 characters
  soak          target_c (30.0 to the ceiling, {CEILING_C:.1f} at most), duration_s (60-1800),
                additives (text), bubbles (true/false), vibration_pct (0-100)
  steps         1 to 30 steps, each with title (up to 32 characters), say (up to 280)
                and one pace: duration_s (5-900), or reps (1-60) with rep_s (1-60),
                or wait_for_tap: true (a prompt); optional per_foot, bubbles,
                vibration_pct, illustration ({", ".join(ILLUSTRATIONS)})
errors are printed as FILE:LINE:COL: field.path: what is wrong; what is allowed
"""


def _version() -> str:
    try:
        return metadata.version("footbath-kiosk")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _add_config_option(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--config", metavar="PATH", default=default,
                        help=f"config file (default: ${ENV_VAR}, else {DEFAULT_PATH})")


def build_parser() -> argparse.ArgumentParser:
    # `--config` is accepted before and after the command. A subcommand copies every value it
    # holds over the top-level ones, so its own default must be "not set" (SUPPRESS), or
    # `footbath --config X routines list` would quietly fall back to the default file.
    common = argparse.ArgumentParser(add_help=False)
    _add_config_option(common, argparse.SUPPRESS)

    parser = argparse.ArgumentParser(
        prog="footbath",
        description="Foot-bath session kiosk: the bath controller, the touchscreen and staff tools.")
    _add_config_option(parser, None)
    parser.add_argument("--version", action="version", version=f"footbath {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    routines = commands.add_parser(
        "routines", parents=[common], help="list, show, check, create and edit routines",
        description="Routines: the shipped ones plus the YAML files in paths.routines_dir.",
        epilog=ROUTINE_FORMAT, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = routines.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", parents=[common], help="every routine on offer, with its lengths",
                   description="List every routine: id, name, shipped or local, soak, total length. "
                               "Files kept out because of errors are listed after.")
    show = sub.add_parser("show", parents=[common], help="one routine, step by step",
                          description="Show one routine step by step.")
    show.add_argument("id", help="routine id, as in `footbath routines list`")
    check = sub.add_parser(
        "check", parents=[common], help="validate routine files",
        description="Validate routine files. Exit status: 0 all valid, 1 a file is invalid, "
                    "2 usage error.", epilog=ROUTINE_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("files", nargs="+", metavar="FILE")
    new = sub.add_parser("new", parents=[common], help="create a commented template",
                         description="Write a commented, valid template for a new routine "
                                     "into the routines dir.")
    new.add_argument("id", help="the new routine's id, e.g. morning")
    edit = sub.add_parser(
        "edit", parents=[common], help="edit a routine safely (like visudo)",
        description="Open a copy of the routine in $VISUAL or $EDITOR, validate it, and reopen "
                    "it with the errors on top until it is valid or you abandon. The file is "
                    "replaced atomically; the previous version is kept as FILE.bak. Editing a "
                    "shipped routine creates a local override.")
    edit.add_argument("id", help="routine id, as in `footbath routines list`")

    run = commands.add_parser(
        "run", parents=[common], help="walk a session on a simulated bath (demo)",
        description="Run a whole session on a simulated bath, printed to the terminal.")
    run.add_argument("--routine", default="classic", help="routine id (default: classic)")
    run.add_argument("--profile", choices=("standard", "gentle"), default="standard")
    run.add_argument("--speed", type=float, default=60.0,
                     help="simulated seconds per real second (default: 60)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return dispatch(args)
    except ConfigError as exc:
        if not exc.problems:
            print(f"footbath: {exc}", file=sys.stderr)
            return 1
        # One located problem a line, as compilers print them, so editors can jump to each.
        print("footbath: the config file has errors; fix them and run the command again:",
              file=sys.stderr)
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except KioskError as exc:
        print(f"footbath: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def dispatch(args: argparse.Namespace) -> int:
    from . import routines_cli

    config = load_config(args.config)
    if args.command == "routines":
        if args.action == "list":
            return routines_cli.cmd_list(config)
        if args.action == "show":
            return routines_cli.cmd_show(config, args.id)
        if args.action == "check":
            return routines_cli.cmd_check(config, args.files)
        if args.action == "new":
            return routines_cli.cmd_new(config, args.id)
        return routines_cli.cmd_edit(config, args.id)
    from .walk import walk

    return walk(config, args.routine, profile=args.profile, speed=args.speed)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
