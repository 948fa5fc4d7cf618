"""The installed bath as the drills drive it from the host: the probe's reading (the fake
1-Wire bus), the GPIO lines on the gpio-sim chip, the service and its API. Measurements that
need the guest's clock go through drill_guest.py in the guest (see there)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from hardware.w1file import w1_slave
from tests.system.installed import GPIO_CHIP, GUEST_DRILL, JOURNAL_DB, OUTPUTS, STOP_PIN, W1_SLAVE
from tests.system.vm import VM, GuestTimeout

UNIT = "footbath.service"
CONFIGFS_CHIP = "/sys/kernel/config/gpio-sim/pi"
SERVICE_UP_TIMEOUT_S = 180.0  # from boot or restart to the socket answering, under TCG


class DrillError(AssertionError):
    """The guest answered, but not as a working bath would."""


@dataclass(frozen=True)
class Journal:
    integrity: list[str]
    sessions: list[dict]
    samples: int


class Bath:
    def __init__(self, vm: VM):
        self.vm = vm
        self._sim: str | None = None

    # -- the hardware stand-ins ---------------------------------------------------------------

    @property
    def sim(self) -> str:
        """The gpio-sim chip's sysfs folder (its device name changes only if the chip is remade)."""
        if self._sim is None:
            device = self.vm.run(f"cat {CONFIGFS_CHIP}/dev_name").stdout.strip()
            self._sim = f"/sys/devices/platform/{device}/gpiochip{GPIO_CHIP}"
        return self._sim

    def value_path(self, pin: int) -> str:
        return f"{self.sim}/sim_gpio{pin}/value"

    def output_paths(self) -> list[str]:
        return [self.value_path(pin) for pin in OUTPUTS.values()]

    def lines(self) -> dict[str, int]:
        """Every output line as the chip shows it now (1 high, 0 low), by config name."""
        paths = " ".join(self.value_path(pin) for pin in OUTPUTS.values())
        values = self.vm.run(f"cat {paths}").stdout.split()
        return {name: int(v) for name, v in zip(OUTPUTS, values, strict=True)}

    def heater_line(self) -> int:
        return int(self.vm.run(f"cat {self.value_path(OUTPUTS['heater'])}").stdout)

    def set_water(self, temp_c: float) -> None:
        """The probe reads temp_c from now on (its w1_slave replaced in one rename)."""
        self.drill("write", W1_SLAVE, input=w1_slave(temp_c))

    def release_stop(self) -> None:
        self.vm.run(f"echo pull-up > {self.sim}/sim_gpio{STOP_PIN}/pull")

    # -- the service ----------------------------------------------------------------------------

    def drill(self, *args: str, input: str | None = None, timeout_s: float = 60.0, user: str | None = None):
        """drill_guest.py ARGS in the guest: its JSON answer. A passed deadline is a DrillError."""
        cmd = ["python3", GUEST_DRILL, "--timeout", str(timeout_s), *args]
        if user is not None:
            cmd = ["runuser", "-u", user, "--", *cmd]
        done = self.vm.run(cmd, input=input, timeout_s=timeout_s + 30, check=False)
        try:
            answer = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise DrillError(f"drill_guest.py {' '.join(args)} exited {done.rc}:\n{done.stdout}{done.stderr}"
                             f"serial log: {self.vm.serial_log}") from None
        if done.rc != 0:
            raise DrillError(f"drill_guest.py {' '.join(args)}: {answer}\n{done.stderr}")
        return answer

    def request(self, op: str, **args) -> dict:
        """One API request through the socket: the whole reply (ok or not)."""
        return self.drill("api", op, json.dumps(args))

    def api(self, op: str, **args):
        reply = self.request(op, **args)
        if not reply.get("ok"):
            raise DrillError(f"the service refused {op} {args}: {reply.get('error')}")
        return reply["result"]

    def status(self) -> dict:
        return self.api("status")

    def main_pid(self) -> int:
        return int(self.vm.run(["systemctl", "show", "-P", "MainPID", UNIT]).stdout)

    def wait_service(self, timeout_s: float = SERVICE_UP_TIMEOUT_S) -> dict:
        """Wait until the unit is active and its socket answers; the status then."""
        self.vm.wait_until(f"systemctl is-active --quiet {UNIT} && test -S /run/footbath/footbath.sock",
                           timeout_s=timeout_s)
        deadline = time.monotonic() + timeout_s
        while True:
            reply = self.vm.run(["python3", GUEST_DRILL, "--timeout", "10", "api", "status"], check=False,
                                timeout_s=40)
            if reply.rc == 0 and json.loads(reply.stdout).get("ok"):
                return json.loads(reply.stdout)["result"]
            if time.monotonic() > deadline:
                raise GuestTimeout(f"{UNIT} is active but its socket did not answer within {timeout_s} s:"
                                   f"\n{reply.stdout}{reply.stderr}serial log: {self.vm.serial_log}")
            time.sleep(0.5)

    def restart(self) -> dict:
        """A fresh controller (no session, no fault), the probe at 30 C and STOP released."""
        self.release_stop()
        self.set_water(30.0)
        self.vm.run(["systemctl", "restart", UNIT], timeout_s=120)
        return self.wait_service()

    def start_heating(self, routine: str = "classic", timeout_s: float = 60.0) -> dict:
        """Start a session as a customer would (start, then the tap that says the basin is
        filled) and wait for the heater line to go high; the status then."""
        self.api("start", routine=routine)
        status = self.api("confirm")
        self.vm.wait_until(f"test $(cat {self.value_path(OUTPUTS['heater'])}) = 1", timeout_s=timeout_s,
                           interval_s=0.2)
        return status

    def journal(self) -> Journal:
        """integrity_check and the sessions, read as the service's user (read only)."""
        answer = self.drill("journal", JOURNAL_DB, user="footbath")
        return Journal(answer["integrity"], answer["sessions"], answer["samples"])

    def unit(self, *props: str) -> dict[str, str]:
        out = self.vm.run(["systemctl", "show", UNIT, *(f"--property={p}" for p in props)]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
