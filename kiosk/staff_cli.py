"""The staff's shell commands: serve, status, temp, history, heater-off, config check, pin."""

from __future__ import annotations

import csv
import getpass
import json
import logging
import signal
import sys
import time
from datetime import datetime

from hardware.devices import DEVICES
from routines import format_duration

from .client import Client, ServiceUnavailable
from .config import Config
from .errors import KioskError
from .journal import CleaningRecord, Journal, SessionRecord
from .staff_pins import PinStore

EXIT_OK, EXIT_FAIL = 0, 1


def cmd_serve(config: Config, *, simulate: bool | None, speed: float, water_c: float = 30.0) -> int:
    """`water_c`: where the simulated water starts (ignored on the real bath)."""
    from .service import Service

    if not 0.0 <= water_c <= 60.0:
        raise KioskError(f"--start-c {water_c:g} is not a water temperature; give 0 to 60 C")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    service = Service(config, simulate=simulate, speed=speed, water_c=water_c)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: service.stop_soon())
    logging.getLogger("footbath").info("serving on %s (%s bath)", service.socket_path,
                                       "simulated" if service.simulated else "real")
    service.run()
    return EXIT_OK


# -- status and temperature ---------------------------------------------------------------

def cmd_status(config: Config, *, as_json: bool, out=None) -> int:
    out = sys.stdout if out is None else out
    with Client(config.paths.socket) as client:
        status = client.request("status")
    if as_json:
        json.dump(status, out, indent=1, sort_keys=True)
        print(file=out)
        return EXIT_OK
    print(describe_status(status), file=out)
    return EXIT_OK


def _c(value: float | None) -> str:
    return "--.- C (no valid reading)" if value is None else f"{value:.1f} C"


def describe_status(s: dict) -> str:
    session = s.get("session") or {}
    phase = s["phase"]
    if s.get("routine_name"):
        phase += f" ({s['routine_name']}, {s['profile']})"
    if session.get("phase") == "steps":
        phase += f": step {session['step_index'] + 1} of {session['step_count']}, {session['title']}"
        if session.get("foot"):
            phase += f", {session['foot']} foot"
    rows = [("phase", phase), ("water", _c(s["water_c"]))]
    if s.get("check_c") is not None:
        rows.append(("probe 2", _c(s["check_c"])))
    if s.get("target_c") is not None:
        rows.append(("target", f"{s['target_c']:.1f} C"))
    rows.append(("heater", "on" if s["heater"] else "off"))
    if s.get("safety_relay") is not None:
        rows.append(("safety", "relay closed" if s["safety_relay"] else "relay open"))
    if s.get("session_remaining_s") is not None and s["phase"] not in ("done", "stopped", "fault"):
        rows.append(("time left", format_duration(s["session_remaining_s"])))
    faults = s.get("faults") or []
    rows.append(("faults", "none" if not faults else "; ".join(f"{f['code']}: {f['message']}"
                                                                 for f in faults)))
    rows.append(("cleaning", "needed before the next session" if s["cleaning_needed"] else "done"))
    errors = s.get("routine_errors") or []
    rows.append(("routines", "all valid" if not errors else f"{len(errors)} problem(s):"))
    rows += [("", e) for e in errors]
    if s.get("journal_error"):
        rows.append(("journal", s["journal_error"]))
    if s.get("note"):
        rows.append(("note", s["note"]))
    if s.get("interrupted"):
        ids = ", ".join(str(i) for i in s["interrupted"])
        rows.append(("note", f"session {ids} was interrupted (the service stopped during it); "
                             "nothing heats until someone starts a new session"))
    if s.get("simulated"):
        rows.append(("bath", "simulated"))
    return "\n".join(f"{k:10s} {v}".rstrip() for k, v in rows)


def cmd_temp(config: Config, *, watch: bool, out=None, count: int | None = None) -> int:
    """Through the service when it runs, else straight from the sensor."""
    out = sys.stdout if out is None else out
    try:
        client = Client(config.paths.socket)
        client.connect()
    except ServiceUnavailable:
        return _temp_direct(config, watch=watch, out=out, count=count)
    with client:
        if not watch:
            print(_c(client.request("status")["water_c"]), file=out)
            return EXIT_OK
        for n, status in enumerate(client.watch(), 1):
            print(f"{datetime.now():%H:%M:%S}  {_c(status['water_c'])}  heater "
                  f"{'on' if status['heater'] else 'off'}", file=out, flush=True)
            if count is not None and n >= count:
                break
    return EXIT_OK


def _temp_direct(config: Config, *, watch: bool, out, count: int | None) -> int:
    from hardware.errors import HardwareError
    from hardware.thermometer import Thermometer

    t = config.hardware.thermometer
    try:
        thermometer = Thermometer(sensor_id=t.sensor_id, devices_dir=t.devices_dir)
    except HardwareError as exc:
        raise KioskError(f"the service is not running, and the thermometer cannot be read "
                         f"directly: {exc}") from None
    n = 0
    while True:
        reading = thermometer.read()
        text = _c(reading.water_c) if reading.ok else f"no valid reading: {reading.message}"
        print(f"{text}  (read directly: the service is not running)", file=out, flush=True)
        n += 1
        if not watch or (count is not None and n >= count):
            return EXIT_OK if reading.ok else EXIT_FAIL
        time.sleep(1.0)


# -- history --------------------------------------------------------------------------------

def parse_since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise KioskError(f"--since {text!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None


def _when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def cmd_history(config: Config, *, since: str | None, as_csv: bool, cleaning: bool,
                out=None) -> int:
    out = sys.stdout if out is None else out
    since_ts = parse_since(since)
    journal = Journal(config.paths.state_dir, readonly=True)
    try:
        if cleaning:
            _print_rows(_cleaning_rows(journal.cleanings(since_ts)), as_csv, out)
        else:
            _print_rows(_session_rows(journal.sessions(since_ts)), as_csv, out)
    finally:
        journal.db.close()
    return EXIT_OK


def _session_rows(records: list[SessionRecord]) -> list[tuple]:
    rows: list[tuple] = [("id", "started", "routine", "profile", "length", "outcome", "target_c",
                          "peak_c", "mean_c")]
    for r in records:
        length = format_duration(r.ended_at - r.started_at) if r.ended_at else "running"
        rows.append((r.id, _when(r.started_at), r.routine, r.profile, length, r.outcome or "running",
                     f"{r.target_c:.1f}", "" if r.peak_c is None else f"{r.peak_c:.1f}",
                     "" if r.mean_c is None else f"{r.mean_c:.1f}"))
    return rows


def _cleaning_rows(records: list[CleaningRecord]) -> list[tuple]:
    rows: list[tuple] = [("id", "started", "finished", "who", "contact")]
    for r in records:
        rows.append((r.id, _when(r.started_at), _when(r.finished_at), r.who, format_duration(r.contact_s)))
    return rows


def _print_rows(rows: list[tuple], as_csv: bool, out) -> None:
    if as_csv:
        csv.writer(out, lineterminator="\n").writerows(rows)
        return
    if len(rows) == 1:
        print("nothing recorded", file=out)
        return
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(), file=out)


# -- heater-off -------------------------------------------------------------------------------

def cmd_heater_off_via_service(config: Config, out=None) -> int:
    out = sys.stdout if out is None else out
    with Client(config.paths.socket, timeout_s=3.0) as client:
        client.request("heater_off")
    print("every output is off (the service switched them off)", file=out)
    return EXIT_OK


def cmd_heater_off(config: Config, out=None) -> int:
    """Every output off: through the service when it answers, else by driving the pins."""
    out = sys.stdout if out is None else out
    try:
        return cmd_heater_off_via_service(config, out)
    except ServiceUnavailable as exc:
        reason = str(exc)
    from .service import build_rig, should_simulate

    if should_simulate(config):
        print(f"the service is not running ({reason}); this is a simulated bath: no pins to drive",
              file=out)
        return EXIT_OK
    try:
        rig = build_rig(config, on_stop=None)  # every output is built off
    except KioskError as exc:
        raise KioskError(f"{reason}. Driving the pins directly failed too: {exc}. Switch the heater "
                         "off at the mains") from None
    try:
        rig.all_off()
    finally:
        rig.close()
    print("every output is off (driven directly: the service is not running); the relay inputs "
          "now float, which the relay boards read as off", file=out)
    return EXIT_OK


# -- config and PINs --------------------------------------------------------------------------

def cmd_config_check(config: Config, out=None) -> int:
    out = sys.stdout if out is None else out
    where = config.file or "built-in defaults (no config file)"
    hw = config.hardware
    fitted = [name for name in DEVICES if name != "heater" and getattr(hw, name) is not None]
    if hw.thermometer.check_sensor_id is not None:
        fitted.append("check probe")
    print(f"{where}: ok", file=out)
    print(f"  bath: {config.bath.litres:g} L, {config.bath.heater_w:g} W heater, ceiling "
          f"{config.bath.ceiling_c:.1f} C", file=out)
    print(f"  heater on GPIO {hw.heater.pin} ({'active high' if hw.heater.active_high else 'active low'});"
          f" also fitted: {', '.join(fitted) or 'nothing'}", file=out)
    print(f"  routines: {config.paths.routines_dir}; journal: {config.paths.state_dir}; "
          f"socket: {config.paths.socket}", file=out)
    return EXIT_OK


def read_pin(prompt: str, stdin=None) -> str:
    stdin = sys.stdin if stdin is None else stdin
    if stdin.isatty():
        return getpass.getpass(prompt)
    line = stdin.readline()
    if not line:
        raise KioskError("no PIN given on standard input")
    return line.strip()


def cmd_pin_set(config: Config, name: str, out=None, stdin=None) -> int:
    out = sys.stdout if out is None else out
    stdin = sys.stdin if stdin is None else stdin
    store = PinStore(config.paths.state_dir)
    first = read_pin(f"New PIN for {name} (4-8 digits): ", stdin)
    second = read_pin("Again: ", stdin)
    if first != second:
        raise KioskError("the two PINs differ; nothing changed")
    store.set(name, first)
    print(f"PIN for {name} saved (as a salted hash) in {store.path}", file=out)
    return EXIT_OK


def cmd_pin_list(config: Config, out=None) -> int:
    out = sys.stdout if out is None else out
    names = PinStore(config.paths.state_dir).names()
    print("\n".join(names) if names else "no staff PINs set; set one with `footbath pin set`", file=out)
    return EXIT_OK


def cmd_pin_remove(config: Config, name: str, out=None) -> int:
    out = sys.stdout if out is None else out
    PinStore(config.paths.state_dir).remove(name)
    print(f"PIN for {name} removed", file=out)
    return EXIT_OK
