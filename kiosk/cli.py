"""The `footbath` command: one entry point for the service, the kiosk and the staff's tools."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata
from pathlib import Path

from routines.model import CEILING_C, ILLUSTRATIONS

from . import doctor as doctor_module
from .config import DEFAULT_PATH, ENV_VAR, Config, load_config
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
        "run", parents=[common], help="the whole kiosk on a simulated bath (demo)",
        description="Run the service on a simulated bath, on a temporary socket with a temporary "
                    "journal, and the touchscreen in a window beside it, in one process. With "
                    "--terminal, walk one session through it, printed to the terminal instead.")
    run.add_argument("--terminal", action="store_true",
                     help="no window: walk one routine and print it (for SSH and scripts)")
    run.add_argument("--routine", default="classic", help="with --terminal: routine id (default: classic)")
    run.add_argument("--profile", choices=("standard", "gentle"), default="standard",
                     help="with --terminal: the profile (default: standard)")
    run.add_argument("--speed", type=float, default=None,
                     help="simulated seconds per real second (default: 1 with the window, 60 with "
                          "--terminal)")

    kiosk = commands.add_parser(
        "kiosk", parents=[common], help="the touchscreen (systemd runs it)",
        description="Run the touchscreen app against the bath controller's socket "
                    "(paths.socket). It shows 'reconnecting' until the controller answers.")
    kiosk.add_argument("--window", action="store_true",
                       help="an 800x480 window instead of full screen (for a desktop)")
    screenshots = commands.add_parser(
        "screenshots", parents=[common], help="render every screen to PNG files",
        description="Render every screen at 800x480 from a scripted session on a simulated bath, "
                    "off-screen, into a folder.")
    screenshots.add_argument("--out", required=True, metavar="DIR", help="where to write the PNGs")
    doctor = commands.add_parser("doctor", parents=[common],
                                 help="check the Pi, the wiring and the set-up",
                                 description=doctor_module.DESCRIPTION)
    doctor_module.add_arguments(doctor)

    serve = commands.add_parser(
        "serve", parents=[common], help="the bath controller service (systemd runs it)",
        description="Run the bath controller: GPIO, thermometer, heater control, safety "
                    "supervisor, sessions, journal and the local API socket. It simulates the "
                    "bath when hardware.simulate says so, or (auto) when no Pi hardware is found.")
    serve.add_argument("--simulate", action=argparse.BooleanOptionalAction, default=None,
                       help="force the simulated bath on or off (default: from the config)")
    serve.add_argument("--speed", type=float, default=1.0,
                       help="simulated seconds per real second, simulated bath only (default: 1)")
    # Hidden, for tests and demos: the simulated water's starting temperature, so that a soak is
    # reached in seconds instead of a quarter of an hour of warming.
    serve.add_argument("--start-c", type=float, default=30.0, help=argparse.SUPPRESS)

    status = commands.add_parser("status", parents=[common], help="what the bath is doing now",
                                 description="Phase, water and target temperature, heater, faults, "
                                             "routine errors and cleaning state, from the service.")
    status.add_argument("--json", action="store_true", help="the full status as JSON")
    temp = commands.add_parser("temp", parents=[common], help="the water temperature",
                               description="The water temperature, through the service when it "
                                           "runs, else read straight from the sensor.")
    temp.add_argument("--watch", action="store_true", help="keep printing it (Ctrl-C stops)")
    # Hidden, for tests: stop watching after this many lines.
    temp.add_argument("--count", type=int, default=None, help=argparse.SUPPRESS)
    history = commands.add_parser("history", parents=[common], help="past sessions or cleanings",
                                  description="Sessions from the journal: start, routine, profile, "
                                              "length, outcome, peak and mean water temperature.")
    history.add_argument("--since", metavar="DATE", help="only from this date (YYYY-MM-DD)")
    history.add_argument("--csv", action="store_true", help="CSV for a spreadsheet")
    history.add_argument("--cleaning", action="store_true",
                         help="the cleaning records instead (who cleaned, when, contact time)")
    commands.add_parser("heater-off", parents=[common], help="switch every output off, now",
                        description="Switch the heater, pump, vibration and buzzer off: through "
                                    "the service when it answers, else by driving the pins "
                                    "directly. Works when the service is dead; systemd runs it "
                                    "after the service stops.")
    config = commands.add_parser("config", parents=[common], help="check the config file",
                                 description="Config file tools.")
    config_sub = config.add_subparsers(dest="action", metavar="ACTION", required=True)
    config_sub.add_parser("check", parents=[common], help="validate the config and summarise it",
                          description="Validate the config file; errors are printed as "
                                      "FILE:LINE:COL: key.path: what is wrong; what is allowed.")
    pin = commands.add_parser("pin", parents=[common], help="staff PINs for the touchscreen",
                              description="Staff PINs open the staff screen, acknowledge faults "
                                          "and log cleanings. Only a salted hash is stored.")
    pin_sub = pin.add_subparsers(dest="action", metavar="ACTION", required=True)
    pin_set = pin_sub.add_parser("set", parents=[common], help="set or change a staff PIN",
                                 description="Set a PIN (4-8 digits), asked twice (or read as two "
                                             "lines from standard input).")
    pin_set.add_argument("--name", default="staff", help="whose PIN (default: staff)")
    pin_sub.add_parser("list", parents=[common], help="who has a PIN",
                       description="List the staff who have a PIN.")
    pin_remove = pin_sub.add_parser("remove", parents=[common], help="remove a staff PIN",
                                    description="Remove one staff member's PIN.")
    pin_remove.add_argument("name")
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
    except BrokenPipeError:  # `footbath ... | head`: the reader has all it wanted
        sys.stderr.close()
        return 0


def _can_hold_pictures(out: Path) -> bool:
    """`out` is a folder this user may write to, or could be made in one."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)


def dispatch(args: argparse.Namespace) -> int:
    from . import routines_cli, staff_cli

    if args.command == "heater-off":
        return heater_off(args.config)
    if args.command == "doctor":  # before the config: a broken config is one failed check
        return doctor_module.cmd_doctor_file(args.config, root=args.root)
    config = load_config(args.config)
    command, action = args.command, getattr(args, "action", None)
    if command == "routines":
        if action == "list":
            return routines_cli.cmd_list(config)
        if action == "show":
            return routines_cli.cmd_show(config, args.id)
        if action == "check":
            return routines_cli.cmd_check(config, args.files)
        if action == "new":
            return routines_cli.cmd_new(config, args.id)
        return routines_cli.cmd_edit(config, args.id)
    if command == "run":
        return run(config, args)
    if command == "kiosk":
        from .ui import main as kiosk_main

        # The config is read and good: the kiosk starts afresh without what reading it took.
        argv = kiosk_main.command(config.paths.socket, language=config.kiosk.language,
                                  volume=config.kiosk.volume, rotation=config.kiosk.rotation,
                                  blank_after_s=config.kiosk.blank_after_s, window=args.window)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(argv[0], argv)
    if command == "screenshots":
        from .ui.screenshots import take_screenshots

        out = Path(args.out)
        if not _can_hold_pictures(out):
            print(f"footbath screenshots: cannot write the pictures into {out}: give a folder "
                  "that exists or can be made, and that this user may write to", file=sys.stderr)
            return 1
        for path in take_screenshots(out):
            print(path)
        return 0
    if command == "serve":
        return staff_cli.cmd_serve(config, simulate=args.simulate, speed=args.speed, water_c=args.start_c)
    if command == "status":
        return staff_cli.cmd_status(config, as_json=args.json)
    if command == "temp":
        return staff_cli.cmd_temp(config, watch=args.watch, count=args.count)
    if command == "history":
        return staff_cli.cmd_history(config, since=args.since, as_csv=args.csv, cleaning=args.cleaning)
    if command == "config":
        return staff_cli.cmd_config_check(config)
    if action == "set":
        return staff_cli.cmd_pin_set(config, args.name)
    if action == "list":
        return staff_cli.cmd_pin_list(config)
    return staff_cli.cmd_pin_remove(config, args.name)


def run(config: Config, args: argparse.Namespace) -> int:
    """The demo: the service on a simulated bath, and the touchscreen (or a terminal walk)."""
    import os

    if not args.terminal and not any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY",
                                                                  "SDL_VIDEODRIVER")):
        print("footbath: no display here (over SSH?): walking a session in the terminal instead",
              file=sys.stderr)
        args.terminal = True
    if args.terminal:
        from .walk import walk

        return walk(config, args.routine, profile=args.profile,
                    speed=60.0 if args.speed is None else args.speed)
    import tempfile
    from pathlib import Path

    from .service import Service
    from .ui.main import run_kiosk
    from .walk import demo_config

    with tempfile.TemporaryDirectory(prefix="footbath-run-") as tmp:
        demo = demo_config(config, Path(tmp))
        service = Service(demo, simulate=True, speed=1.0 if args.speed is None else args.speed)
        service.start()
        try:
            return run_kiosk(demo.paths.socket, language=config.kiosk.language,
                             volume=config.kiosk.volume, fullscreen=False,
                             blank_after_s=config.kiosk.blank_after_s)
        finally:
            service.stop()


def heater_off(config_path: str | None) -> int:
    """Never refused for a bad config: with the config unreadable, the default socket is tried."""
    from . import staff_cli

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        config = Config()
        print("footbath: the config has errors:", file=sys.stderr)
        for line in (exc.problems or (exc,)):
            print(line, file=sys.stderr)
        print(f"footbath: trying the default socket {config.paths.socket}", file=sys.stderr)
        try:
            return staff_cli.cmd_heater_off_via_service(config)
        except KioskError as inner:
            raise KioskError(f"{inner}. The pins are unknown while the config is broken: switch the "
                             "heater off at the mains") from None
    return staff_cli.cmd_heater_off(config)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
