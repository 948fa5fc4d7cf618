#!/bin/sh
# The system tests (tests/system) as `make test` runs them: where the host can, that is as
# root (mmdebstrap builds the image in a chroot) on Debian (QEMU and mmdebstrap from its
# packages, installed when missing); elsewhere one line says why they did not run.
# Usage: sh tools/system-tests.sh PYTHON [PYTEST ARGS...]
set -eu
PY=$1
shift
if [ "$(id -u)" -ne 0 ]; then
    echo "system tests not run: they need root to build the Debian image (run make test as root, or make test-system with sudo)"
    exit 0
fi
if [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "system tests not run: they need Debian's packages (QEMU, mmdebstrap), and this is not Debian"
    exit 0
fi
sh "$(dirname "$0")/system-packages.sh"
# Two workers, one lane each (tests/system/conftest.py): the power-cut drill's VM on one,
# the VM drills 1-5 share and then test_boot.py's on the other.
# --durations: what each drill and each fixture (the image, the installed disk) cost.
FOOTBATH_SYSTEM_TESTS=1 exec "$PY" -m pytest -q -n 2 --durations=0 --durations-min=1 tests/system "$@"
