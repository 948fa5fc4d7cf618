"""The `footbath` command as staff run it: help, version, where the config comes from, and a
bad config stopping every command before it does anything. Run as the real program."""

import os
import re
import shlex
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from kiosk.cli import build_parser
from tests.helpers import run_cli
from tests.samples import MORNING_ROUTINE

pytestmark = pytest.mark.processes  # the footbath command, run as staff run it

ROOT = Path(__file__).resolve().parents[2]

LOCAL = MORNING_ROUTINE


@pytest.fixture
def routines_dir(tmp_path):
    folder = tmp_path / "routines"
    folder.mkdir()
    (folder / "morning.yaml").write_text(LOCAL)
    return folder


@pytest.fixture
def good_config(tmp_path, routines_dir):
    path = tmp_path / "good.yaml"
    path.write_text(f"paths:\n  routines_dir: {routines_dir}\n")
    return path


# -- help and version ----------------------------------------------------------------------

HELP = [
    ([], "Foot-bath session kiosk"),
    (["routines"], "errors are printed as FILE:LINE:COL"),
    (["routines", "list"], "Files kept out because of errors are listed after"),
    (["routines", "show"], "Show one routine step by step"),
    (["routines", "check"], "Exit status: 0 all valid, 1 a file is invalid, 2 usage error"),
    (["routines", "new"], "commented, valid template"),
    (["routines", "edit"], "the previous version is kept as FILE.bak"),
    (["run"], "simulated seconds per real second"),
    (["serve"], "the local API socket"),
    (["kiosk"], "shows 'reconnecting' until the controller answers"),
    (["screenshots"], "Render every screen at 800x480"),
    (["doctor"], "--root DIR"),
    (["status"], "routine errors and cleaning state"),
    (["temp"], "read straight from the sensor"),
    (["history"], "peak and mean water temperature"),
    (["heater-off"], "Works when the service is dead"),
    (["config"], "Config file tools"),
    (["config", "check"], "FILE:LINE:COL"),
    (["pin"], "Only a salted hash is stored"),
    (["pin", "set"], "4-8 digits"),
    (["pin", "list"], "who have a PIN"),
    (["pin", "remove"], "one staff member's PIN"),
]


@pytest.mark.parametrize(("command", "says"), HELP, ids=[" ".join(c) or "footbath" for c, _ in HELP])
def test_help_works_on_every_command(command, says):
    result = run_cli(*command, "--help")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"usage: {' '.join(['footbath', *command])}")
    assert says in " ".join(result.stdout.split())  # argparse rewraps text to the terminal
    assert "--config PATH" in result.stdout


def test_every_command_has_help_listed():
    """No subcommand is added without help text (the loop above must then grow too)."""
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    listed = dict(commands.choices)
    every = {(name,) for name in listed}
    for name, sub in listed.items():
        actions = [a for a in sub._actions if a.dest == "action"]
        every |= {(name, choice) for a in actions for choice in a.choices}
    assert every <= {tuple(c) for c, _ in HELP}


def test_the_routine_format_is_explained_in_help():
    text = run_cli("routines", "check", "--help").stdout
    for key in ("target_c", "duration_s", "reps", "rep_s", "wait_for_tap", "per_foot", "illustration"):
        assert key in text
    assert "40.0 at most" in text


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"footbath {metadata.version('footbath-kiosk')}\n"
    assert re.fullmatch(r"footbath \d+\.\d+\.\d+\S*\n", result.stdout)


@pytest.mark.parametrize("args", [[], ["routines"], ["dance"], ["routines", "sing"],
                                  ["run", "--profile", "hot"], ["run", "--speed", "fast"]],
                         ids=["nothing", "no-action", "unknown", "unknown-action", "bad-profile",
                              "bad-speed"])
def test_usage_errors_exit_2(args):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: footbath")
    assert result.stdout == ""


def test_the_installed_console_script_runs():
    script = Path(sys.executable).parent / "footbath"
    if not script.exists():
        pytest.skip("the package is not installed in this interpreter's environment")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (0, f"footbath {metadata.version('footbath-kiosk')}\n")


# -- where the config comes from -----------------------------------------------------------


@pytest.fixture
def bad_config(tmp_path):
    """A config with three located mistakes; its routines dir would be created if anything ran."""
    path = tmp_path / "bad.yaml"
    path.write_text(f"paths:\n  routines_dir: {tmp_path / 'never'}\nbath:\n  ceiling_c: 41\n"
                    "hardware:\n  pump: {pin: 17}\n  fan: {pin: 5}\n")
    return path


BAD_CONFIG_PROBLEMS = [
    (4, 14, "bath.ceiling_c", "41 is out of range"),
    (6, 15, "hardware.pump.pin", "GPIO 17 is also the heater"),
    (7, 3, "hardware.fan", "unknown key"),
]


@pytest.mark.parametrize("where", ["before", "between", "after"])
def test_config_option_is_accepted_before_and_after_the_command(where, good_config, bad_config):
    option = ["--config", str(good_config)]
    args = {"before": [*option, "routines", "list"],
            "between": ["routines", *option, "list"],
            "after": ["routines", "list", *option]}[where]
    # $FOOTBATH_CONFIG names a bad file: it must not be read when --config is given.
    result = run_cli(*args, env_extra={"FOOTBATH_CONFIG": str(bad_config)})
    assert result.returncode == 0, result.stderr
    assert re.search(r"^morning\s+Morning wake-up\s+local\s", result.stdout, re.M)


def test_the_environment_names_the_config(good_config):
    result = run_cli("routines", "list", env_extra={"FOOTBATH_CONFIG": str(good_config)})
    assert result.returncode == 0, result.stderr
    assert re.search(r"^morning\s+Morning wake-up\s+local\s", result.stdout, re.M)


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_missing_named_config_is_an_error(how, tmp_path):
    missing = tmp_path / "nope.yaml"
    if how == "option":
        result = run_cli("--config", str(missing), "routines", "list")
    else:
        result = run_cli("routines", "list", env_extra={"FOOTBATH_CONFIG": str(missing)})
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"footbath: {missing}: no such config file; check the path "
                             "(--config or $FOOTBATH_CONFIG)\n")


def test_an_empty_config_file_is_fine(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    result = run_cli("--config", str(empty), "routines", "show", "classic")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Classic soak and massage (classic, shipped")


@pytest.fixture
def marking_editor(tmp_path):
    """An editor that leaves a mark if it is ever started."""
    script = tmp_path / "mark.py"
    mark = tmp_path / "editor-ran"
    script.write_text(f"from pathlib import Path\nPath({str(mark)!r}).write_text('ran')\n")
    return shlex.join([sys.executable, str(script)]), mark


COMMANDS = [
    ["routines", "list"],
    ["routines", "show", "classic"],
    ["routines", "check", "ROUTINE"],
    ["routines", "new", "sunrise"],
    ["routines", "edit", "classic"],
    ["run", "--speed", "1e9"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_a_bad_config_stops_every_command_before_it_does_anything(command, bad_config, tmp_path,
                                                                 marking_editor):
    routine = tmp_path / "morning.yaml"
    routine.write_text(LOCAL)
    editor, mark = marking_editor
    args = [str(routine) if a == "ROUTINE" else a for a in command]
    result = run_cli("--config", str(bad_config), *args, env_extra={"EDITOR": editor})
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "footbath: the config file has errors; fix them and run the command again:"
    assert len(lines) == 1 + len(BAD_CONFIG_PROBLEMS)
    for line, (row, col, path, says) in zip(lines[1:], BAD_CONFIG_PROBLEMS, strict=True):
        assert line.startswith(f"{bad_config}:{row}:{col}: {path}: {says}")
    assert not (tmp_path / "never").exists()  # `new`/`edit` did not create the routines dir
    assert not mark.exists()  # `edit` did not start the editor


# -- footbath run --------------------------------------------------------------------------


def test_run_walks_a_session_to_the_end(good_config):
    result = run_cli("--config", str(good_config), "run", "--terminal", "--routine", "morning",
                     "--speed", "1e9")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Morning wake-up, standard profile: 7 min 30 s once the water is warm")
    assert re.search(r"\] done\s+water [\d.]+ C  All done$", lines[-1])


@pytest.mark.parametrize(("args", "says"), [
    (["--routine", "nope"], "footbath: no routine 'nope'; known routines: classic, evening, gentle, "
                            "quick, morning\n"),
    (["--speed", "0"], "footbath: --speed must be above 0, not 0\n"),
    (["--speed", "-5"], "footbath: --speed must be above 0, not -5\n"),
], ids=["unknown-routine", "zero-speed", "negative-speed"])
def test_run_refuses_what_it_cannot_do(args, says, good_config):
    result = run_cli("--config", str(good_config), "run", "--terminal", *args)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", says)


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_screenshots_into_a_place_that_cannot_hold_them_is_a_clear_error(where, tmp_path, good_config):
    (tmp_path / "a-file").write_text("not a folder")
    done = run_cli("--config", str(good_config), "screenshots", "--out", str(tmp_path / where))
    assert done.returncode == 1
    assert "cannot write the pictures into" in done.stderr and "Traceback" not in done.stderr


def test_kiosk_reads_the_config_then_runs_as_the_lean_kiosk_process(tmp_path):
    """`footbath kiosk` becomes `python -m kiosk.ui.main` (same process) with the config's
    settings, and the config's parser is not in its memory; the kiosk then dials the socket."""
    socket_path = tmp_path / "api.sock"
    config = tmp_path / "config.yaml"
    config.write_text(f"paths:\n  socket: {socket_path}\nkiosk:\n  language: de\n  volume: 0.3\n")
    env = {k: v for k, v in os.environ.items() if k != "FOOTBATH_CONFIG"}
    env.update(SDL_VIDEODRIVER="offscreen", SDL_AUDIODRIVER="dummy", KIVY_NO_CONSOLELOG="1",
               KIVY_HOME=str(tmp_path / "kivy"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(socket_path))
        listener.listen(1)
        listener.settimeout(60)
        kiosk = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--config", str(config), "kiosk",
                                  "--window"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            connection, _ = listener.accept()  # the kiosk's link, from the process it became
            connection.close()
            argv = Path(f"/proc/{kiosk.pid}/cmdline").read_bytes().decode().split("\0")
            maps = Path(f"/proc/{kiosk.pid}/maps").read_text()
        finally:
            kiosk.kill()  # SDL holds SIGTERM back for its own loop
            kiosk.wait(timeout=60)
    assert argv[1:3] == ["-m", "kiosk.ui.main"]
    assert argv[argv.index("--socket") + 1] == str(socket_path)
    assert argv[argv.index("--language") + 1] == "de" and float(argv[argv.index("--volume") + 1]) == 0.3
    assert "--window" in argv
    assert "_window_sdl2" in maps and "_yaml" not in maps  # Kivy's window, and no PyYAML


def test_the_kiosk_command_line_carries_every_setting(monkeypatch):
    from kiosk.ui import main as kiosk_main

    started = {}
    monkeypatch.setattr(kiosk_main, "run_kiosk",
                        lambda socket_path, **settings: started.update(socket=socket_path, **settings) or 0)
    argv = kiosk_main.command(Path("/run/footbath/api.sock"), language="de", volume=0.35, rotation=180,
                              blank_after_s=90.5, window=False)
    assert argv[:3] == [sys.executable, "-m", "kiosk.ui.main"]
    assert kiosk_main.main(argv[3:]) == 0
    assert started == {"socket": Path("/run/footbath/api.sock"), "language": "de", "volume": 0.35,
                       "rotation": 180, "blank_after_s": 90.5, "fullscreen": True}
