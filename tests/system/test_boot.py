"""Smoke tests of the system-test foundation: the image boots to systemd, the simulated Pi
hardware (a gpio-sim chip, a vkms display, uinput) is there, the share works both ways, and
the drills of the footbath install stand on these (drill 6 cuts the power)."""

import secrets
import time

import pytest

from tests.system.vm import VM, GuestTimeout

GPIO_CHIP = "gpiochip0"  # made at boot by footbath-test-gpio.service, named "pi"
CONFIGFS_CHIP = "/sys/kernel/config/gpio-sim/pi"


@pytest.fixture(scope="module")
def vm(system_image, tmp_path_factory, figures):
    """One booted VM (disk with snapshot=on) for the read-only checks of this file."""
    machine = VM(system_image, workdir=tmp_path_factory.mktemp("vm"))
    try:
        report = machine.boot()
        figures.append(f"boot to the agent: {report.host_s:.1f} s on the host, guest uptime "
                       f"{report.uptime_s:.1f} s")
        yield machine
    finally:
        machine.close()


def test_systemd_is_pid1_and_the_system_runs(vm, figures):
    assert vm.run("cat /proc/1/comm").stdout.strip() == "systemd"
    state = vm.run("systemctl is-system-running --wait", timeout_s=180, check=False)
    status = state.stdout.strip()
    if status == "degraded":
        failed = vm.run("systemctl --failed --no-legend --plain", check=False).stdout
        print(f"degraded: failed units:\n{failed}")
    assert status in ("running", "degraded"), f"{status}\n{state.stderr}serial log: {vm.serial_log}"
    assert vm.unit_uptime_s("footbath-test-gpio.service") < state.end_uptime_s
    analyze = vm.run("systemd-analyze", check=False).stdout.splitlines()
    figures.append(f"systemd {status} at guest uptime {state.end_uptime_s:.1f} s; "
                   f"{analyze[0] if analyze else ''}")


def sim_line(vm, offset: int) -> str:
    """The sysfs folder of a gpio-sim line: value (what the line is driven to) and pull."""
    device = vm.run(f"cat {CONFIGFS_CHIP}/dev_name").stdout.strip()
    return f"/sys/devices/platform/{device}/{GPIO_CHIP}/sim_gpio{offset}"


def test_gpio_sim_chip_from_configfs(vm):
    assert vm.run(f"cat {CONFIGFS_CHIP}/live").stdout.strip() == "1"
    assert vm.run(f"cat {CONFIGFS_CHIP}/bank0/chip_name").stdout.strip() == GPIO_CHIP
    info = vm.run(f"gpioinfo {GPIO_CHIP}").stdout
    assert f"{GPIO_CHIP} - 28 lines" in info
    assert '"GPIO17"' in info and '"GPIO27"' in info


def test_gpio_output_set_in_the_guest_reads_back(vm):
    line = sim_line(vm, 17)
    assert vm.run(f"cat {line}/value").stdout.strip() == "0"
    holder = vm.run_background(["gpioset", "--mode=signal", GPIO_CHIP, "17=1"])
    try:
        vm.wait_until(f"test $(cat {line}/value) = 1", timeout_s=20)
    finally:
        vm.run(f"kill {holder.pid}")
    # Released, a gpio-sim line goes back to its pull (down by default).
    vm.wait_until(f"test $(cat {line}/value) = 0", timeout_s=20)


def test_gpio_input_pulled_through_sysfs_reads_the_pull(vm):
    line = sim_line(vm, 23)
    vm.run(f"echo pull-up > {line}/pull")
    assert vm.run(f"gpioget {GPIO_CHIP} 23").stdout.strip() == "1"
    vm.run(f"echo pull-down > {line}/pull")
    assert vm.run(f"gpioget {GPIO_CHIP} 23").stdout.strip() == "0"


def test_vkms_display_with_a_connected_connector(vm):
    assert vm.run("test -c /dev/dri/card0", check=False).rc == 0
    # vkms registers a bare platform device named vkms (no driver binds it).
    device = vm.run("readlink -f /sys/class/drm/card0/device").stdout.strip()
    assert device == "/sys/devices/platform/vkms"
    assert vm.run("cat /sys/class/drm/card0-Virtual-1/status").stdout.strip() == "connected"
    assert "1024x768" in vm.run("cat /sys/class/drm/card0-Virtual-1/modes").stdout.split()


def test_uinput_answers(vm):
    # UI_GET_VERSION: proves the module is loaded and the node is the real device.
    script = ("import fcntl, os, struct\n"
              "fd = os.open('/dev/uinput', os.O_WRONLY | os.O_NONBLOCK)\n"
              "print(struct.unpack('I', fcntl.ioctl(fd, 0x8004552D, b'\\0' * 4))[0])\n")
    version = vm.run(["python3", "-c", script]).stdout.strip()
    assert int(version) >= 5


def test_share_works_both_ways(vm):
    token = secrets.token_hex(8)
    (vm.share / "from-host.txt").write_text(token)
    assert vm.run("cat /share/from-host.txt").stdout == token
    vm.run(f"echo {token}-back > /share/from-guest.txt")
    assert (vm.share / "from-guest.txt").read_text() == f"{token}-back\n"


def test_a_command_past_its_timeout_is_killed_and_reported(vm):
    started = time.monotonic()
    with pytest.raises(GuestTimeout, match="ran over 2 s"):
        vm.run("echo started; sleep 600", timeout_s=2)
    assert time.monotonic() - started < 2 + 15
    assert vm.run("pgrep -x sleep", check=False).rc == 1  # its process group went with it


def test_a_background_command_logs_and_can_be_stopped(vm):
    job = vm.run_background("echo begun; exec sleep 600")
    vm.wait_until(f"grep -q begun {job.log}", timeout_s=20)
    vm.run(f"kill {job.pid}")
    vm.wait_until(f"grep -q 'agent: exit -15' {job.log}", timeout_s=20)


def test_clean_poweroff(vm, figures):
    report = vm.shutdown(timeout_s=90)
    assert not vm.running
    figures.append(f"clean power-off: {report.host_s:.1f} s from the request to QEMU gone")
