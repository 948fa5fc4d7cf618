#!/bin/sh
# Make a wheel directory for an offline install: footbath's own wheel, built from this
# checkout, and the wheels of everything it needs at run time (with the extras the installer
# installs), for a target machine that may be of another architecture. Then, on the target,
# with no network: sudo sh systemd/install.sh --wheels DIR. Runs pip only; POSIX sh.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CHECKOUT=$(dirname "$HERE")
ARCH=x86_64
PY_VERSION=3.11   # Debian 12 and Raspberry Pi OS Bookworm
GLIBC=2.36        # the same
EXTRAS=pi,mqtt    # what systemd/install.sh installs by default
PYTHON=python3
DIR=""

usage() {
    cat <<EOF
Usage: sh tools/wheels.sh [OPTIONS] DIR

On a machine with network: builds footbath's wheel from this checkout and downloads, with
pip, the wheels of all its run-time dependencies (pinned as in pyproject.toml) and of the
extras $EXTRAS, for CPython $PY_VERSION on Linux, into DIR. On the target, without network:

    sudo sh systemd/install.sh --wheels DIR

Run it twice with different --arch into one DIR for both kinds of machine. An older
footbath wheel in DIR is replaced; other wheels are kept. Binary wheels only: a dependency
with no wheel for the target is an error, never built here for the wrong machine.

Options:
  --arch ARCH            x86_64 (default: a PC, a virtual machine) or aarch64 (a Raspberry
                         Pi 4 or 5 on 64-bit Raspberry Pi OS; 32-bit armv7l has no Kivy,
                         lgpio or PyYAML wheels on PyPI)
  --python-version X.Y   the target's CPython (default: $PY_VERSION, Bookworm's)
  --glibc X.Y            the target's C library (default: $GLIBC, Bookworm's): no wheel
                         that needs a newer one is taken
  --extras LIST          footbath's extras to include (default: $EXTRAS)
  --python PATH          the Python that runs pip here (default: python3)
  -h, --help             this text
EOF
}

die() { printf 'footbath wheels: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
        --arch) [ $# -ge 2 ] || die "--arch needs x86_64 or aarch64"; ARCH=$2; shift ;;
        --python-version) [ $# -ge 2 ] || die "--python-version needs X.Y, e.g. 3.11"; PY_VERSION=$2; shift ;;
        --glibc) [ $# -ge 2 ] || die "--glibc needs X.Y, e.g. 2.36"; GLIBC=$2; shift ;;
        --extras) [ $# -ge 2 ] || die "--extras needs a list, e.g. pi,mqtt"; EXTRAS=$2; shift ;;
        --python) [ $# -ge 2 ] || die "--python needs a path"; PYTHON=$2; shift ;;
        -h | --help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option: $1" ;;
        *) [ -z "$DIR" ] || die "one DIR only (got $DIR and $1)"; DIR=$1 ;;
    esac
    shift
done

[ -n "$DIR" ] || { usage >&2; die "give the directory to fill, e.g. sh tools/wheels.sh wheels"; }
case $ARCH in
    x86_64 | aarch64) ;;
    armv7l | armhf) die "--arch $ARCH: Kivy, lgpio and PyYAML have no 32-bit ARM wheels; use 64-bit Raspberry Pi OS and --arch aarch64" ;;
    *) die "--arch $ARCH: give x86_64 or aarch64" ;;
esac
case $PY_VERSION in
    3.1[1-9]) ;;
    *) die "--python-version $PY_VERSION: footbath needs CPython 3.11 or newer (X.Y, e.g. 3.11)" ;;
esac
case $GLIBC in
    2.[0-9][0-9]) ;;
    *) die "--glibc $GLIBC: give X.Y, e.g. 2.36 (ldd --version on the target says)" ;;
esac
[ -f "$CHECKOUT/pyproject.toml" ] || die "$CHECKOUT has no pyproject.toml: run the copy of this script in a footbath checkout"
command -v "$PYTHON" >/dev/null 2>&1 || die "no $PYTHON: give a Python with pip with --python"
"$PYTHON" -m pip --version >/dev/null 2>&1 \
    || die "$PYTHON has no pip: sudo apt-get install python3-pip, or give --python .venv/bin/python"

started=$(date +%s)
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
CP=cp$(printf '%s' "$PY_VERSION" | tr -d .)

# Every glibc the target's C library covers, newest first: pip takes a manylinux_2_N tag
# literally and would pass over, say, lgpio's manylinux_2_34 wheel for a manylinux2014 target.
PLATFORMS=""
minor=${GLIBC#2.}
while [ "$minor" -ge 17 ]; do
    PLATFORMS="$PLATFORMS --platform manylinux_2_${minor}_$ARCH"
    minor=$((minor - 1))
done
PLATFORMS="$PLATFORMS --platform manylinux2014_$ARCH"
TARGET="--only-binary=:all: $PLATFORMS --python-version $PY_VERSION --implementation cp --abi $CP"

# 1. footbath's wheel, built from a clean copy of the checkout: setuptools would put files
#    left in an old build/ directory into the wheel.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
echo "footbath wheels: building footbath's wheel from $CHECKOUT"
tar -C "$CHECKOUT" --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=.pytest_cache --exclude=.ruff_cache \
    --exclude=.hypothesis -cf - . | tar -C "$work" -xf - || die "cannot copy $CHECKOUT"
mkdir "$work/out"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/out" "$work" \
    >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; die "building footbath's wheel failed (above)"; }
set -- "$work"/out/footbath_kiosk-*.whl
[ -f "$1" ] || die "pip made no footbath_kiosk wheel; see pip's output above"
WHEEL=$(basename "$1")
for old in "$DIR"/footbath_kiosk-*.whl; do
    if [ -f "$old" ] && [ "$(basename "$old")" != "$WHEEL" ]; then
        echo "footbath wheels: replacing $(basename "$old")"
        rm -f "$old"
    fi
done
cp "$1" "$DIR/$WHEEL"

# 2. Its dependencies for the target, as pinned in the wheel's metadata (from pyproject.toml),
#    and setuptools and wheel: the build backend, for installing a checkout offline
#    (install.sh --from CHECKOUT --wheels DIR).
echo "footbath wheels: downloading the wheels for CPython $PY_VERSION on $ARCH (glibc $GLIBC) into $DIR"
spec="$DIR/$WHEEL"
[ -z "$EXTRAS" ] || spec="${spec}[$EXTRAS]"
# shellcheck disable=SC2086 # TARGET is a list of options
"$PYTHON" -m pip download --disable-pip-version-check --quiet $TARGET -d "$DIR" "$spec" \
    'setuptools>=68' wheel >"$work/download.log" 2>&1 || {
    grep -v '^WARNING: Location' "$work/download.log" >&2
    die "a dependency has no wheel for CPython $PY_VERSION on $ARCH (above): no offline install for this target"
}

# 3. Proof that it is complete: pip resolves footbath for the target from DIR alone.
pkg=footbath-kiosk
[ -z "$EXTRAS" ] || pkg="${pkg}[$EXTRAS]"
# shellcheck disable=SC2086
"$PYTHON" -m pip install --disable-pip-version-check --dry-run --ignore-installed --no-index \
    --find-links "$DIR" $TARGET --target "$work/target" "$pkg" >"$work/check.log" 2>&1 || {
    cat "$work/check.log" >&2
    die "$DIR does not install footbath offline for $ARCH (above)"
}

ended=$(date +%s)
echo "footbath wheels: $(sed -n 's/^Would install //p' "$work/check.log" | wc -w) packages for $ARCH, offline-installable:"
echo "  built for $ARCH (compiled code):"
for f in "$DIR"/*"_$ARCH.whl"; do
    if [ -f "$f" ]; then echo "    $(basename "$f")"; fi
done
echo "  pure Python: every other wheel in $DIR"
set -- "$DIR"/*.whl
echo "footbath wheels: $DIR holds $# wheels, $(du -sh "$DIR" | cut -f1), made in $((ended - started)) s"
echo "On the target (no network needed): sudo sh systemd/install.sh --wheels $DIR"
