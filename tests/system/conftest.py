"""System tests boot a Debian VM under QEMU: minutes of CPU, root to build the image, and
Debian's QEMU and mmdebstrap on the host. Without FOOTBATH_SYSTEM_TESTS=1 pytest leaves them
out; tools/system-tests.sh (the end of `make test`, and `make test-system`) sets it where
the host can run them, installs what the host needs (tools/system-packages.sh) and runs them
on two workers.

Fixtures: `system_image` (the cached image, built first if need be), `vm_factory` (VMs that
are killed at the end of the test whatever happens), `figures` (lines quoted in the run's
summary: build, boot and power-off times). For the footbath drills: `system_share` (a share
with systemd/, the wheels tools/wheels.sh makes and the guest's drill script),
`installed_system` (a disk with footbath installed by install.sh --wheels and set up, made once
and cached: boot copies of it with vm.overlay) and `installed_vm` (one booted copy the drills
of installing, the units and the sessions share, in that order).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENABLED = os.environ.get("FOOTBATH_SYSTEM_TESTS") == "1"
if not ENABLED:
    collect_ignore_glob = ["test_*.py"]

_figures: list[str] = []


@pytest.fixture(scope="session")
def figures():
    """Append a line to have it printed under "system-test figures" at the end of the run."""
    return _figures


@pytest.fixture(scope="session")
def system_image(figures):
    from tests.system import image, vm

    if (why := vm.qemu_available()) is not None:
        pytest.fail(why)
    cached = image.find()
    started = time.monotonic()
    built = image.ensure(log=lambda line: print(line, flush=True))
    if cached is None:
        m = built.manifest
        figures.append(f"image {m['key']}: built now in {time.monotonic() - started:.0f} s "
                       f"(root filesystem {m['rootfs_s']:.0f} s and modules {m['modules_s']:.0f} s "
                       f"in parallel, disk {m['disk_s']:.0f} s)")
    else:
        figures.append(f"image {built.manifest['key']}: cached in {built.dir} (it took "
                       f"{built.manifest['build_s']:.0f} s to build on {built.manifest['built_at']})")
    return built


@pytest.fixture
def vm_factory(system_image, tmp_path):
    """vm_factory(**kwargs) -> a VM of the system image (kwargs as for vm.VM); all are killed
    when the test ends. Their serial logs stay in the test's tmp_path."""
    from tests.system.vm import VM

    made = []

    def make(**kwargs):
        kwargs.setdefault("workdir", tmp_path / f"vm{len(made) + 1}")
        machine = VM(system_image, **kwargs)
        made.append(machine)
        return machine

    yield make
    for machine in made:
        machine.close()


@pytest.fixture(scope="session")
def system_share(tmp_path_factory, figures):
    """A host folder to share with the drills' VMs: systemd/ as in the checkout, the wheel
    directory tools/wheels.sh makes (footbath's wheel and its dependencies', for the guest's
    CPython 3.11 on x86_64) and drill_guest.py."""
    from tests.system import installed

    share = installed.make_share(tmp_path_factory.mktemp("share"))
    seconds, _ = installed.make_wheels(share / "wheels", log=lambda line: print(line, flush=True))
    wheels = sorted((share / "wheels").glob("*.whl"))
    size_mb = sum(w.stat().st_size for w in wheels) / 1e6
    figures.append(f"wheels: tools/wheels.sh made {len(wheels)} wheels ({size_mb:.0f} MB) in {seconds:.0f} s")
    return share


@pytest.fixture(scope="session")
def installed_system(system_share, system_image, tmp_path_factory, figures):
    """footbath installed on a copy of the image by install.sh --wheels (drill 1 checks how),
    set up for the drills (tests/system/installed.py) and cleanly powered off: from the cache,
    or made now. Boot copies of its disk: vm_factory(disk=vm.overlay(installed_system.disk, ...),
    share=system_share)."""
    from tests.system import installed

    made = installed.ensure(system_image, system_share, workdir=tmp_path_factory.mktemp("install-vm"),
                            log=lambda line: print(line, flush=True))
    m = made.manifest
    how = (f"cached (made {m['built_at']} in {m['build_s']:.0f} s)" if made.cached
           else f"made now in {m['build_s']:.0f} s")
    figures.append(f"install {made.key}: {how}: boot {m['boot_host_s']:.1f} s, install.sh --wheels "
                   f"{m['install_guest_s']:.1f} s (guest clock), power-off {m['poweroff_host_s']:.1f} s")
    return made


@pytest.fixture(scope="session")
def reference(tmp_path_factory) -> Path:
    """The off-screen renders of the home screen and the health question at the VM display's
    size, with their block grids and layout.json (display/reference.py), made on the host."""
    from tests.system.display import SIZE

    out = tmp_path_factory.mktemp("reference")
    done = subprocess.run([sys.executable, "-m", "tests.system.display.reference", "--out", str(out),
                           "--size", f"{SIZE[0]}x{SIZE[1]}"], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != 0:
        pytest.fail(f"the off-screen render failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return out


@pytest.fixture(scope="session")
def installed_vm(system_share, reference, system_image, installed_system, tmp_path_factory, figures):
    """One booted copy of the installed disk, shared by drills 1-5 in that order (each leaves
    the service running and may restart it). As it boots the screen is watched until the
    kiosk has drawn its home screen (drill 3 judges the picture): out/home-boot.json in the
    share, before any drill loads the guest; then the kiosk is stopped. (Fixtures are made in
    the order of the arguments: the wheels and the reference first, on the host, while the
    other worker builds the image.)"""
    from tests.system import display
    from tests.system.vm import VM, overlay

    workdir = tmp_path_factory.mktemp("installed-vm")
    out = display.share_tools(system_share, reference)
    disk = overlay(installed_system.disk, workdir / "disk.qcow2")
    # One emulated CPU: these drills do one thing at a time, and the host's other core is
    # then the power-cut drill's, whose eleven boots are the longest lane.
    machine = VM(system_image, disk=disk, share=system_share, workdir=workdir, cpus=1)
    try:
        report = machine.boot()
        display.wait_for_the_kiosk(machine, display.HOME_TIMEOUT_S)
        home = display.watch(machine, "home", "home-boot.png", display.HOME_TIMEOUT_S)
        home.update(boot_uptime_s=report.uptime_s, units=display.units(machine))
        (out / "home-boot.json").write_text(json.dumps(home))
        # The kiosk draws with software GL, which under TCG takes most of the emulated CPU: the
        # other drills run without it (drill 3's tap starts it again, and stops it after).
        machine.run(["systemctl", "stop", display.KIOSK], timeout_s=60)
        figures.append(f"installed system booted: {report.host_s:.1f} s on the host, guest uptime "
                       f"{report.uptime_s:.1f} s at the agent")
        yield machine
    finally:
        machine.close()


# Two lanes, one per pytest-xdist worker: the power-cut drill (a VM of its own) on one; on the
# other, drills 1-5 (one shared VM, in order), then test_boot.py (a VM of the bare image): last,
# so that the install, which both lanes wait for, has the host's CPU to itself.
POWER_CUTS = "test_drill6_power_cuts.py"
BOOT = "test_boot.py"


def pytest_collection_modifyitems(items):
    boot = Path(__file__).with_name(BOOT)
    items.sort(key=lambda item: item.path == boot)  # stable: the rest keep their order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Each lane's tests on one worker, in order. (xdist's --dist loadgroup marks are not
    honoured under this pytest: it cannot rename the tests.)"""
    from xdist.scheduler import LoadScopeScheduling

    class Lanes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "power-cuts" if Path(nodeid.split("::", 1)[0]).name == POWER_CUTS else "shared-vm"

    return Lanes(config, log)


def pytest_sessionfinish(session):
    if hasattr(session.config, "workeroutput"):  # an xdist worker: its figures go to the controller
        session.config.workeroutput["footbath_figures"] = list(_figures)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _figures.extend(getattr(node, "workeroutput", {}).get("footbath_figures", []))


def pytest_terminal_summary(terminalreporter):
    if _figures:
        terminalreporter.write_sep("-", "system-test figures")
        for line in _figures:
            terminalreporter.write_line(line)
