"""Drill 6 of the system tests: power cuts. The installed system, on a disk of its own that
keeps every write across boots, is booted, a session started and heating, and QEMU killed at a
random moment of it (SIGKILL: what the guest had not written to the disk is lost), ten times.
After each boot: the heater line low from the first look to a while after the controller is
up, the journal passes SQLite's integrity_check, the session the cut broke is recorded as
interrupted, and nothing heats until a session is started.

The moments are drawn from a seeded generator (the seed is in the figures: a failure can be
replayed with FOOTBATH_POWER_CUT_SEED). The kiosk is masked on this disk's kernel command line:
it has no part in heating, and under TCG its start takes most of the emulated CPU of a boot."""

import json
import os
import random

from tests.system.bath import Bath
from tests.system.installed import GUEST_DRILL, OUTPUTS
from tests.system.vm import VM, overlay

CUTS = 10
HEATING_S = (0.0, 8.0)  # the cut comes this long after the heater line went high
QUIET_S = 3.0  # after boot, the lines are watched this long with the controller up
SAMPLED = "/run/footbath-test-sampled"
WATCH_LOG = "/run/footbath-test-watch.log"


def test_drill_6_ten_power_cuts_in_heating_sessions(system_image, installed_system, system_share,
                                                    tmp_path, figures):
    seed = int(os.environ.get("FOOTBATH_POWER_CUT_SEED", random.SystemRandom().randrange(10**6)))
    moments = random.Random(seed)
    disk = overlay(installed_system.disk, tmp_path / "disk.qcow2")
    vm = VM(system_image, disk=disk, share=system_share, workdir=tmp_path / "vm",
            kernel_args="systemd.mask=footbath-kiosk.service")
    bath = Bath(vm)
    heater = None
    boots, cuts, sessions, watched_s = [], [], [], []
    try:
        for cut in range(CUTS + 1):
            report = vm.boot()
            boots.append(report.host_s)
            if heater is None:
                heater = bath.value_path(OUTPUTS["heater"])
            # From the agent's first word until the controller has been up QUIET_S: never high.
            vm.run(f"rm -f {SAMPLED}")
            vm.run_background(["python3", GUEST_DRILL, "sample", "--until", SAMPLED, "600",
                                         *bath.output_paths()], log=WATCH_LOG)
            status = bath.wait_service()
            assert status["phase"] == "idle" and status["heater"] is False, (cut, status)
            bath.drill("sample", str(QUIET_S), heater)
            vm.run(f"touch {SAMPLED}")
            found = vm.wait_until(f"grep '^{{' {WATCH_LOG}", timeout_s=30).stdout
            watched = json.loads(found.splitlines()[0])
            assert set(watched["highest"].values()) == {0}, (cut, watched)
            watched_s.append(watched["seconds"])
            journal = bath.journal()
            assert journal.integrity == ["ok"], (cut, journal.integrity)
            unfinished = [row["id"] for row in journal.sessions if row["outcome"] is None]
            assert unfinished == [], (cut, journal.sessions[-3:])
            if cut:
                # The session's row was committed (synchronous=FULL) before the start was
                # answered; the controller marked it interrupted when it came up.
                broken = next((row for row in journal.sessions if row["id"] == sessions[-1]), None)
                assert broken is not None and broken["outcome"] == "interrupted", (cut, broken)
                assert status["interrupted"] == [sessions[-1]], (cut, status["interrupted"])
            assert vm.run(f"cat {heater}").stdout.strip() == "0"
            if cut == CUTS:
                break
            bath.start_heating()
            running = [row["id"] for row in bath.journal().sessions if row["outcome"] is None]
            assert len(running) == 1, (cut, running)
            sessions.append(running[0])
            wait_s = moments.uniform(*HEATING_S)
            stop = vm.power_cut(after_s=wait_s)
            cuts.append((wait_s, stop.last_uptime_s))
    finally:
        vm.close()
    moments_s = ", ".join(f"{w:.1f}" for w, _ in cuts)
    figures.append(f"drill 6 power cuts (seed {seed}): {CUTS} cuts at {moments_s} s into heating; boots "
                   f"{min(boots):.1f}-{max(boots):.1f} s (host); after each every output low "
                   f"from the agent's start to {QUIET_S:g} s after the controller answered "
                   f"({min(watched_s):.0f}-{max(watched_s):.0f} s watched), integrity_check ok, the "
                   f"broken session interrupted")
