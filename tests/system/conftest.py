"""System tests boot a Debian VM under QEMU: minutes of CPU, root to build the image, and
Debian's QEMU and mmdebstrap on the host. So `make test` leaves them out unless
FOOTBATH_SYSTEM_TESTS=1 is set; `make test-system` sets it, installs what the host needs
(tools/system-packages.sh) and runs them alone.

Fixtures: `system_image` (the cached image, built first if need be), `vm_factory` (VMs that
are killed at the end of the test whatever happens), `figures` (lines quoted in the run's
summary: build, boot and power-off times).
"""

import os
import time

import pytest

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


def pytest_terminal_summary(terminalreporter):
    if _figures:
        terminalreporter.write_sep("-", "system-test figures")
        for line in _figures:
            terminalreporter.write_line(line)
