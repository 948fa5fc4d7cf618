"""Drill 6 of the system tests: power cuts. The installed system, on a disk of its own that
keeps every write across boots, is booted, a session started and heating, and QEMU killed at a
random moment of it (SIGKILL: what the guest had not written to the disk is lost), ten times.
After each boot: every output line low from the agent's first word until the controller has
answered for a while, the journal passes SQLite's integrity_check with no session left open,
the session the cut broke is recorded as interrupted, and nothing heats until a session is
started.

The moments are drawn from a seeded generator (the seed is in the figures: a failure can be
replayed with FOOTBATH_POWER_CUT_SEED). The kiosk is masked on this VM's kernel command line:
it has no part in heating, and under TCG its start takes most of the emulated CPU of a boot;
so are the login services (logind, D-Bus, the gettys), which nothing here uses: a boot is then
a few seconds shorter, eleven times over.
Each round after a boot is one guest command (drill_guest.py cycle), run as the service's
user, so that the boots, not the round trips, set the drill's pace."""

import json
import os
import random

from tests.system.bath import Bath
from tests.system.installed import GUEST_DRILL, JOURNAL_DB, OUTPUTS
from tests.system.vm import VM, overlay

CUTS = 10
HEATING_S = (0.0, 3.0)  # the cut comes this long after the heater line went high
QUIET_S = 1.0  # after boot, the lines are watched until the controller has answered this long
ROUND_TIMEOUT_S = 180.0
MASKED = ("footbath-kiosk.service", "systemd-logind.service", "dbus.service", "dbus.socket",
          "getty@tty1.service", "serial-getty@ttyS0.service")


def test_drill_6_ten_power_cuts_in_heating_sessions(system_share, system_image, installed_system,
                                                    tmp_path, figures):
    seed = int(os.environ.get("FOOTBATH_POWER_CUT_SEED", random.SystemRandom().randrange(10**6)))
    moments = random.Random(seed)
    disk = overlay(installed_system.disk, tmp_path / "disk.qcow2")
    vm = VM(system_image, disk=disk, share=system_share, workdir=tmp_path / "vm",
            kernel_args=" ".join(f"systemd.mask={unit}" for unit in MASKED))
    bath = Bath(vm)
    boots, cuts, answered, running = [], [], [], None
    try:
        for cut in range(CUTS + 1):
            boots.append(vm.boot().host_s)
            heater = bath.value_path(OUTPUTS["heater"])
            start = [] if cut == CUTS else ["--start", "classic"]
            done = vm.run(["runuser", "-u", "footbath", "--", "python3", GUEST_DRILL, "--timeout",
                           str(ROUND_TIMEOUT_S), "cycle", JOURNAL_DB, heater, *bath.output_paths(),
                           "--quiet-s", str(QUIET_S), *start], timeout_s=ROUND_TIMEOUT_S + 60, check=False)
            assert done.rc == 0, f"round {cut}: {done.stdout}{done.stderr}serial log {vm.serial_log}"
            seen = json.loads(done.stdout.strip().splitlines()[-1])
            where = f"after cut {cut} (seed {seed}; serial log {vm.serial_log})"
            assert set(seen["highest"].values()) == {0}, (where, seen["highest"])
            status, journal = seen["status"], seen["journal"]
            assert status["phase"] == "idle" and status["heater"] is False, (where, status)
            assert journal["integrity"] == ["ok"], (where, journal["integrity"])
            assert [s for s in journal["sessions"] if s["outcome"] is None] == [], (where, journal)
            if running is not None:
                # The session's row was committed (synchronous=FULL) before the start was
                # answered; the controller marked it interrupted when it came up.
                row = next((s for s in journal["sessions"] if s["id"] == running), None)
                assert row is not None and row["outcome"] == "interrupted", (where, row)
                assert status["interrupted"] == [running], (where, status["interrupted"])
            answered.append(seen["answered_after_s"])
            if cut == CUTS:
                break
            assert len(seen["running"]) == 1, (where, seen)
            running = seen["running"][0]
            wait_s = moments.uniform(*HEATING_S)
            vm.power_cut(after_s=wait_s)
            cuts.append(wait_s)
    finally:
        vm.close()
    moments_s = ", ".join(f"{w:.1f}" for w in cuts)
    figures.append(f"drill 6 power cuts (seed {seed}): {CUTS} cuts at {moments_s} s into heating; boots "
                   f"{min(boots):.1f}-{max(boots):.1f} s (host), the controller answering "
                   f"{min(answered):.1f}-{max(answered):.1f} s after the agent; after each: every output "
                   f"low until {QUIET_S:g} s after that, integrity_check ok, no session open, the cut one "
                   f"interrupted")
