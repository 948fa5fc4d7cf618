"""Drill 5 of the system tests: the watchdog. The controller, heating, is frozen with SIGSTOP
(a hang as the kernel sees one: no thread runs, no file is closed); systemd, no longer pinged,
kills it after WatchdogSec; ExecStopPost (`footbath heater-off`) drives the heater line low;
the restarted controller comes up locked and does not heat. The time from the freeze to the
heater line low is taken in the guest."""

import re

from tests.system.bath import UNIT, Bath
from tests.system.installed import OUTPUTS


def unit_seconds(value: str) -> float:
    """A systemctl show duration (e.g. 10s, 1min 30s, 500ms) in seconds."""
    units = {"min": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(min|ms|us|s)", value))


def test_drill_5_a_frozen_controller_is_killed_and_the_heater_goes_low(installed_vm, figures):
    vm = installed_vm
    bath = Bath(vm)
    bath.restart()
    bath.start_heating()
    unit = bath.unit("WatchdogUSec", "TimeoutAbortUSec", "NRestarts", "MainPID")
    watchdog_s = unit_seconds(unit["WatchdogUSec"])
    restarts = int(unit["NRestarts"])
    heater = bath.value_path(OUTPUTS["heater"])
    since = vm.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()

    frozen = bath.drill("freeze", unit["MainPID"], heater, timeout_s=watchdog_s * 4 + 60)
    low_after_s = frozen["low_at"] - frozen["frozen_at"]
    assert frozen["heater_before"] == 1, frozen
    # Not before the watchdog's time (nothing else noticed the hang), and soon after it.
    assert watchdog_s - 1.0 <= low_after_s <= watchdog_s + 10.0, frozen

    status = bath.wait_service()
    log = vm.run(f"journalctl -u {UNIT} --since '{since}' -o short-monotonic --no-pager", check=False).stdout
    assert re.search(r"Watchdog timeout", log), log
    assert "Failed with result 'watchdog'" in log, log
    assert int(bath.unit("NRestarts")["NRestarts"]) == restarts + 1
    # Restarted locked: no session, the heater low and staying low.
    assert status["phase"] == "idle" and status["heater"] is False, status
    sampled = bath.drill("sample", "5", *bath.output_paths())
    assert set(sampled["highest"].values()) == {0}, sampled
    killed = re.search(r"Killing process \d+ \(footbath\) with signal (SIG\w+)", log)
    how = killed[1] if killed else "the kill"
    figures.append(f"drill 5 watchdog: SIGSTOP to the heater line low {low_after_s:.1f} s (guest; "
                   f"WatchdogSec {watchdog_s:g} s, then {how} and ExecStopPost heater-off); "
                   f"restarted locked, every output low for {sampled['seconds']:g} s after "
                   f"({sampled['looks']} looks)")
