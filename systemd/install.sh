#!/bin/sh
# Install footbath on Raspberry Pi OS (Bookworm): its users, a venv in /opt/footbath, the
# config and the routines dir when missing, and the systemd units. Running it again is an
# update: it never overwrites the staff's config or routines. With --wheels it needs no
# network for Python packages (tools/wheels.sh makes the directory). POSIX sh; see --help.
set -eu

PREFIX=/opt/footbath
VENV=$PREFIX/venv
UNITS="footbath.service footbath-kiosk.service"
# What the kiosk needs from Debian: a venv, and for Kivy on KMS/DRM, Mesa's GL/EGL/GBM and
# libmtdev (the touchscreen). Only the missing ones are installed.
DEB_PACKAGES="python3-venv libgl1-mesa-dri libegl1 libgles2 libgbm1 libdrm2 libmtdev1"

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=""
DRY=0
UNINSTALL=0
PURGE=0
SRC=""
WHEELS=""
HINT=""  # what to do when the next run fails, said after the failure
STAFF=${SUDO_USER:-}
W1_PIN=4
PYTHON=python3
EXTRAS=pi,mqtt  # lgpio for the GPIO chips; paho-mqtt for the optional telemetry

usage() {
    cat <<EOF
Usage: sudo sh systemd/install.sh [OPTIONS]
       sudo sh systemd/install.sh --uninstall [--purge] [OPTIONS]

Installs footbath: the users footbath and footbath-kiosk (systemd-sysusers), a venv in
$VENV with footbath in it, the command /usr/local/bin/footbath,
/etc/footbath/config.yaml and /etc/footbath/routines/ when missing (staff files are
never overwritten), footbath.service and footbath-kiosk.service (enabled, not started),
the hardware watchdog for a hung Pi (/etc/systemd/system.conf.d/footbath-watchdog.conf),
udev rules that give the GPIO chips to the gpio group (as Raspberry Pi OS does; plain Debian
leaves them to root) and let the kiosk dim the display, and says what the boot config needs
for the 1-Wire bus. Run it again to update.

Options:
  --from PATH     install this checkout or wheel (default: the checkout holding this script;
                  with --wheels, the footbath wheel in DIR)
  --wheels DIR    offline: install footbath and every package it needs with pip from the
                  wheels in DIR only (--no-index --find-links DIR), never from the network.
                  Make DIR on a machine with network: sh tools/wheels.sh DIR (add
                  --arch aarch64 for a Raspberry Pi). The Debian packages below still
                  come from Debian (apt) when missing.
  --extras LIST   the package's extras to install (default: $EXTRAS)
  --staff USER    add USER to the footbath group (default: the user running sudo)
  --w1-pin N      the 1-Wire data pin to suggest for config.txt (default: $W1_PIN)
  --python PATH   the Python that builds the venv, 3.11 or newer (default: python3)
  --root DIR      install into the directory tree DIR instead of /, for tests and images:
                  no Debian packages, no pip (a launcher runs footbath from --from with
                  --python), no chown; users and units are written into DIR by
                  systemd-sysusers --root and systemctl --root
  --dry-run       print every action and change nothing
  --uninstall     disable and remove the units, $PREFIX and the command; keep the
                  journal, the PINs, the config and the routines
  --purge         with --uninstall: delete those too, and the users
  -h, --help      this text

Debian packages it installs when missing: $DEB_PACKAGES
EOF
}

say() { printf '%s\n' "$*"; }
die() { printf 'footbath install: %s\n' "$*" >&2; exit 1; }

# The arguments as one line a shell would read back the same.
quote() {
    quoted=""
    for arg do
        case $arg in
            "" | *[!A-Za-z0-9_./:=@%+,-]*) arg="'$(printf '%s' "$arg" | sed "s/'/'\\\\''/g")'" ;;
        esac
        quoted="${quoted:+$quoted }$arg"
    done
    printf '%s' "$quoted"
}

# Every change goes through run: "+ command" is printed, then done unless --dry-run.
run() {
    say "+ $(quote "$@")"
    [ "$DRY" = 1 ] && return 0
    "$@" || die "failed (exit $?): $(quote "$@")${HINT:+
  $HINT}"
}
keep() { say "= $*"; }
skip() { reason=$1; shift; say "- $(quote "$@")    # skipped: $reason"; }

# install -m MODE SRC DEST, unless DEST already has that content and mode.
put() {
    if [ -f "$3" ] && cmp -s "$2" "$3" && [ "$(stat -c %a "$3")" = "${1#0}" ]; then
        keep "$3 is up to date"
    else
        run install -D -m "$1" "$2" "$3"
    fi
}

# write MODE DEST LINE...: a small generated file, unless DEST already says exactly that.
write() {
    mode=$1 dest=$2
    shift 2
    if [ -f "$dest" ] && [ "$(cat "$dest")" = "$(printf '%s\n' "$@")" ] \
        && [ "$(stat -c %a "$dest")" = "${mode#0}" ]; then
        keep "$dest is up to date"
        return
    fi
    say "+ write $dest (mode $mode):"
    printf '    %s\n' "$@"
    [ "$DRY" = 1 ] && return 0
    mkdir -p "$(dirname "$dest")"
    printf '%s\n' "$@" >"$dest.tmp" && chmod "$mode" "$dest.tmp" && mv -f "$dest.tmp" "$dest" \
        || die "cannot write $dest"
}

own() {  # own OWNER:GROUP PATH
    if [ -n "$ROOT" ]; then skip "--root" chown "$1" "$2"; else run chown "$1" "$2"; fi
}

while [ $# -gt 0 ]; do
    case $1 in
        --from) [ $# -ge 2 ] || die "--from needs a path"; SRC=$2; shift ;;
        --wheels) [ $# -ge 2 ] || die "--wheels needs a directory of wheels (tools/wheels.sh makes one)"
            WHEELS=$2; shift ;;
        --extras) [ $# -ge 2 ] || die "--extras needs a list, e.g. pi"; EXTRAS=$2; shift ;;
        --staff) [ $# -ge 2 ] || die "--staff needs a user name"; STAFF=$2; shift ;;
        --w1-pin) [ $# -ge 2 ] || die "--w1-pin needs a GPIO number"; W1_PIN=$2; shift ;;
        --python) [ $# -ge 2 ] || die "--python needs a path"; PYTHON=$2; shift ;;
        --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift ;;
        --dry-run) DRY=1 ;;
        --uninstall) UNINSTALL=1 ;;
        --purge) PURGE=1 ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown option: $1" ;;
    esac
    shift
done

[ "$PURGE" = 0 ] || [ "$UNINSTALL" = 1 ] || die "--purge goes with --uninstall"
case $W1_PIN in
    [2-9] | 1[0-9] | 2[0-7]) ;;
    *) die "--w1-pin $W1_PIN is not a BCM GPIO number (2-27)" ;;
esac
[ "$STAFF" = root ] && STAFF=""
if [ -n "$WHEELS" ]; then
    [ -d "$WHEELS" ] || die "--wheels $WHEELS is not a directory: make one on a machine with network" \
        "with sh tools/wheels.sh DIR and copy it here"
    WHEELS=$(cd "$WHEELS" && pwd)
fi
if [ -n "$ROOT" ]; then
    [ -d "$ROOT" ] || die "--root $ROOT is not a directory"
    ROOT=$(cd "$ROOT" && pwd)
    [ "$ROOT" = / ] && ROOT=""
fi
if [ -z "$ROOT" ] && [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ]; then
    die "run it as root: sudo sh $0 (or see what it would do with --dry-run)"
fi

UNIT_DIR=$ROOT/etc/systemd/system
CONF_DIR=$ROOT/etc/footbath

# -- install ------------------------------------------------------------------------------

# The one footbath wheel in the --wheels directory: what is installed unless --from says.
wheel_in_dir() {
    found="" n=0
    for w in "$WHEELS"/footbath_kiosk-*.whl; do
        [ -f "$w" ] || continue
        found=$w n=$((n + 1))
    done
    [ "$n" -gt 0 ] || die "$WHEELS has no footbath wheel (footbath_kiosk-*.whl): make the" \
        "directory with sh tools/wheels.sh DIR in a footbath checkout, or name footbath with --from"
    [ "$n" = 1 ] || die "$WHEELS holds $n footbath wheels: delete the ones not to install" \
        "(tools/wheels.sh replaces an older one), or name one with --from"
    SRC=$found
}

# The wheels in DIR that carry compiled code must include this machine's Python and
# processor: a directory made for a PC fails on a Pi, and pip's own error names one package
# and not the cause.
wheels_fit() {
    [ -n "$WHEELS" ] && [ -z "$ROOT" ] || return 0
    # shellcheck disable=SC2046 # three words
    set -- $("$PYTHON" -c 'import platform, struct, sys
machine = platform.machine()
if machine == "aarch64" and struct.calcsize("P") == 4:
    machine = "armv7l"  # 32-bit Raspberry Pi OS on a 64-bit kernel
print("cp%d%d %d.%d %s" % (sys.version_info[:2] * 2 + (machine,)))')
    compiled=$(for w in "$WHEELS"/*.whl; do printf '%s\n' "${w##*/}"; done \
        | grep -E -- '-cp[0-9]+-[^-]+-[^-]*linux[^-]*\.whl$' || true)
    [ -n "$compiled" ] || return 0  # pure Python only: nothing to tell
    # cp311-cp311 wheels are for one Python; cp38-abi3 ones for that one and newer.
    versioned=$(printf '%s\n' "$compiled" | grep -- '-\(cp[0-9]*\)-\1-' || true)
    if printf '%s\n' "$compiled" | grep -q -- "_$3[.]" \
        && { [ -z "$versioned" ] || printf '%s\n' "$versioned" | grep -q -- "-$1-$1-[^-]*_$3[.]"; }; then
        return 0
    fi
    die "$WHEELS has no wheels for this machine (CPython $2 on $3), e.g." \
        "$(printf '%s\n' "$compiled" | head -n 1): make it on a machine with network with" \
        "sh tools/wheels.sh --arch $3 --python-version $2 DIR"
}

find_source() {
    if [ -z "$SRC" ]; then
        if [ -n "$WHEELS" ]; then wheel_in_dir; else SRC=$(dirname "$HERE"); fi
    fi
    case $SRC in /*) ;; *) SRC=$(pwd)/$SRC ;; esac
    if [ -d "$SRC" ]; then
        [ -f "$SRC/pyproject.toml" ] \
            || die "$SRC has no pyproject.toml: give a footbath checkout or wheel with --from"
    else
        case $SRC in
            *.whl) [ -f "$SRC" ] || die "no such wheel: $SRC" ;;
            *) die "--from $SRC is neither a footbath checkout nor a .whl file" ;;
        esac
    fi
    command -v "$PYTHON" >/dev/null 2>&1 || die "no $PYTHON: install Python 3.11 or give --python"
    PYTHON=$(command -v "$PYTHON")
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PYTHON is older than 3.11: Raspberry Pi OS Bookworm has 3.11"
    wheels_fit
    command -v systemd-sysusers >/dev/null 2>&1 \
        || die "no systemd-sysusers: install the Debian package systemd"
    command -v systemctl >/dev/null 2>&1 || die "no systemctl: install the Debian package systemd"
    say "footbath install: from $SRC into ${ROOT:-/}$([ "$DRY" = 1 ] && printf ' (dry run: nothing is changed)')"
    [ -z "$WHEELS" ] || say "footbath install: offline, Python packages from $WHEELS only"
}

debian_packages() {
    if [ -n "$ROOT" ]; then
        skip "--root" apt-get install --no-install-recommends $DEB_PACKAGES
        return
    fi
    if ! command -v dpkg-query >/dev/null 2>&1; then
        say "- not Debian: make sure these are installed: $DEB_PACKAGES"
        return
    fi
    missing=""
    for p in $DEB_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    if [ -z "$missing" ]; then
        keep "Debian packages installed: $DEB_PACKAGES"
        return
    fi
    [ -z "$WHEELS" ] || HINT="--wheels brings Python packages only; these are Debian's:$missing. Without
  network, install them first from .deb files (apt-get install ./NAME.deb ...), then run this again"
    run apt-get update -q
    # shellcheck disable=SC2086 # one word a package
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
    HINT=""
}

users() {
    put 0644 "$HERE/footbath.sysusers" "$ROOT/etc/sysusers.d/footbath.conf"
    if [ -n "$ROOT" ]; then run systemd-sysusers --root="$ROOT" footbath.conf
    else run systemd-sysusers footbath.conf; fi
    [ -n "$STAFF" ] || return 0
    if [ -n "$ROOT" ]; then
        grep -q "^$STAFF:" "$ROOT/etc/passwd" 2>/dev/null \
            || die "--staff $STAFF: no such user in $ROOT/etc/passwd"
    else
        getent passwd "$STAFF" >/dev/null || die "--staff $STAFF: no such user"
    fi
    if grep -Eq "^footbath:[^:]*:[^:]*:(.*,)?$STAFF(,|\$)" "$ROOT/etc/group" 2>/dev/null; then
        keep "$STAFF is in the footbath group"
    elif [ -n "$ROOT" ]; then
        run systemd-sysusers --root="$ROOT" --inline "m $STAFF footbath"
    else
        run systemd-sysusers --inline "m $STAFF footbath"
    fi
}

software() {
    spec=$SRC
    [ -z "$EXTRAS" ] || spec="${SRC}[$EXTRAS]"
    # pip's options: with --wheels, DIR is the only place it looks.
    set -- --disable-pip-version-check
    [ -z "$WHEELS" ] || set -- "$@" --no-index --find-links "$WHEELS"
    if [ -n "$ROOT" ]; then
        # No venv and no pip under --root: a launcher stands in for the venv's command.
        skip "--root" "$PYTHON" -m venv "$VENV"
        skip "--root" "$VENV/bin/pip" install "$@" --upgrade "$spec"
        write 0755 "$ROOT$VENV/bin/footbath" \
            '#!/bin/sh' \
            "# Written by install.sh --root: runs footbath from $SRC (no venv under --root)." \
            "PYTHONPATH=$(quote "$SRC") exec $(quote "$PYTHON") -m kiosk.cli \"\$@\""
    else
        if [ -x "$VENV/bin/python" ]; then keep "$VENV exists"; else run "$PYTHON" -m venv "$VENV"; fi
        [ -z "$WHEELS" ] || HINT="a wheel pip needs is not in $WHEELS: make the directory again on a
  machine with network with sh tools/wheels.sh DIR (--arch aarch64 for a Raspberry Pi)"
        # pip reinstalls a checkout every time, so this is also the update.
        run "$VENV/bin/pip" install "$@" --upgrade "$spec"
        case $SRC in
            *.whl) same_version_wheel "$@" ;;
            *) if [ -e "$VENV/footbath-wheel.sha256" ]; then run rm -f "$VENV/footbath-wheel.sha256"; fi ;;
        esac
        HINT=""
    fi
    link=$ROOT/usr/local/bin/footbath
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$VENV/bin/footbath" ]; then
        keep "$link -> $VENV/bin/footbath"
    elif [ -e "$link" ] && [ ! -L "$link" ]; then
        say "! $link exists and is not ours: left alone; staff can run $VENV/bin/footbath"
    else
        [ -d "$ROOT/usr/local/bin" ] || run mkdir -p "$ROOT/usr/local/bin"
        run ln -sfn "$VENV/bin/footbath" "$link"
    fi
}

# pip leaves footbath alone when the wheel has the version already installed, so a wheel
# rebuilt from newer code at an unchanged version would not be installed: install it over
# the old one unless the venv holds this very wheel (its checksum, kept beside the venv).
same_version_wheel() {
    stamp=$VENV/footbath-wheel.sha256
    sum=$(sha256sum "$SRC" | cut -d ' ' -f 1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then
        keep "$VENV has footbath from this very wheel (sha256 $sum)"
        return
    fi
    run "$VENV/bin/pip" install "$@" --no-deps --force-reinstall "$SRC"
    write 0644 "$stamp" "$sum"
}

staff_files() {
    if [ -d "$CONF_DIR" ]; then keep "$CONF_DIR exists"; else run install -d -m 0755 "$CONF_DIR"; fi
    if [ -e "$CONF_DIR/config.yaml" ]; then
        keep "$CONF_DIR/config.yaml exists: kept as it is (staff file)"
    else
        run install -m 0640 "$HERE/config.yaml" "$CONF_DIR/config.yaml"
        own root:footbath "$CONF_DIR/config.yaml"
    fi
    if [ -d "$CONF_DIR/routines" ]; then
        keep "$CONF_DIR/routines exists: kept as it is (staff files)"
    else
        # setgid and group-writable: staff in the footbath group edit routines without sudo.
        run install -d -m 2775 "$CONF_DIR/routines"
        own root:footbath "$CONF_DIR/routines"
    fi
}

units() {
    for unit in $UNITS; do
        put 0644 "$HERE/$unit" "$UNIT_DIR/$unit"
    done
    if [ -n "$ROOT" ]; then
        # shellcheck disable=SC2086
        run systemctl --root="$ROOT" enable $UNITS
    else
        run systemctl daemon-reload
        # shellcheck disable=SC2086
        run systemctl enable $UNITS
    fi
}

hardware_watchdog() {
    put 0644 "$HERE/watchdog.conf" "$ROOT/etc/systemd/system.conf.d/footbath-watchdog.conf"
}

# udev_rule NAME SUBSYSTEM: install footbath-NAME.rules as 90-footbath-NAME.rules and apply
# it to the devices already there.
udev_rule() {
    rule=$ROOT/etc/udev/rules.d/90-footbath-$1.rules
    if [ -f "$rule" ] && cmp -s "$HERE/footbath-$1.rules" "$rule"; then
        keep "$rule is up to date"
        return
    fi
    put 0644 "$HERE/footbath-$1.rules" "$rule"
    if [ -n "$ROOT" ]; then
        skip "--root" udevadm trigger --settle --action=add --subsystem-match="$2"
    elif command -v udevadm >/dev/null 2>&1; then
        run udevadm control --reload
        run udevadm trigger --settle --action=add --subsystem-match="$2"
    fi
}

boot_config() {
    BOOT_CONFIG=""
    for f in "$ROOT/boot/firmware/config.txt" "$ROOT/boot/config.txt"; do
        if [ -f "$f" ]; then BOOT_CONFIG=$f; break; fi
    done
    W1_LINE=""
    if [ -n "$BOOT_CONFIG" ]; then
        W1_LINE=$(grep -E '^[[:space:]]*dtoverlay=w1-gpio' "$BOOT_CONFIG" | head -n 1 || true)
    fi
    if [ -n "$W1_LINE" ]; then
        keep "1-Wire bus: $BOOT_CONFIG has $W1_LINE"
    fi
    # A link to the desktop's login manager; inside a tree under --root it points outside it.
    if [ -L "$UNIT_DIR/display-manager.service" ] || [ -e "$UNIT_DIR/display-manager.service" ]; then
        say "! a desktop is enabled and holds the screen: boot to the console instead"
        say "  (sudo raspi-config: System Options > Boot / Auto Login > Console)"
    fi
}

finish() {
    say ""
    say "Next:"
    n=1
    if [ -z "$W1_LINE" ]; then
        say "  $n. Add this line at the end of ${BOOT_CONFIG:-/boot/firmware/config.txt} (under [all]) for"
        say "     the thermometer's 1-Wire bus, then reboot:"
        say ""
        say "         dtoverlay=w1-gpio,gpiopin=$W1_PIN"
        say ""
        n=$((n + 1))
    fi
    say "  $n. Check the wiring and the settings: footbath doctor"
    n=$((n + 1))
    say "  $n. Start: sudo systemctl start footbath footbath-kiosk (they also start at every boot)"
    if [ -n "$STAFF" ]; then
        say "  $STAFF is in the footbath group from the next login on."
    else
        say "  Staff need the footbath group for the footbath command: sudo adduser NAME footbath"
    fi
    if [ -z "$ROOT" ] && [ "$DRY" = 0 ] && systemctl is-active --quiet footbath.service; then
        say "  The controller is running the previous version; restart it when no customer is in a"
        say "  session: sudo systemctl restart footbath footbath-kiosk"
    fi
}

# -- uninstall ----------------------------------------------------------------------------

uninstall() {
    say "footbath uninstall: from ${ROOT:-/}$([ "$DRY" = 1 ] && printf ' (dry run: nothing is changed)')"
    present=""
    for unit in $UNITS; do
        [ -e "$UNIT_DIR/$unit" ] && present="$present $unit"
    done
    if [ -n "$present" ]; then
        # Stopping the controller runs its ExecStopPost: every output off.
        # shellcheck disable=SC2086
        if [ -n "$ROOT" ]; then run systemctl --root="$ROOT" disable $present
        else run systemctl disable --now $present; fi
        for unit in $present; do run rm -f "$UNIT_DIR/$unit"; done
        [ -n "$ROOT" ] || run systemctl daemon-reload
    else
        keep "no footbath units installed"
    fi
    link=$ROOT/usr/local/bin/footbath
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$VENV/bin/footbath" ]; then run rm -f "$link"; fi
    if [ -e "$ROOT$PREFIX" ]; then run rm -rf "$ROOT$PREFIX"; else keep "$ROOT$PREFIX is not there"; fi
    for f in "$ROOT/etc/systemd/system.conf.d/footbath-watchdog.conf" \
        "$ROOT/etc/udev/rules.d/90-footbath-gpio.rules" \
        "$ROOT/etc/udev/rules.d/90-footbath-backlight.rules"; do
        if [ -e "$f" ]; then run rm -f "$f"; fi
    done
    if [ "$PURGE" = 0 ]; then
        keep "kept: the journal and the staff PINs in $ROOT/var/lib/footbath"
        keep "kept: the config and the routines in $CONF_DIR"
        keep "kept: the users footbath and footbath-kiosk (--purge deletes these three)"
        return
    fi
    for d in "$ROOT/var/lib/footbath" "$ROOT/var/lib/footbath-kiosk" "$ROOT/var/cache/footbath-kiosk" \
        "$CONF_DIR"; do
        if [ -e "$d" ]; then run rm -rf "$d"; fi
    done
    if [ -e "$ROOT/etc/sysusers.d/footbath.conf" ]; then run rm -f "$ROOT/etc/sysusers.d/footbath.conf"; fi
    for user in footbath-kiosk footbath; do
        if [ -n "$ROOT" ]; then
            skip "--root" userdel "$user"
        elif getent passwd "$user" >/dev/null; then
            run userdel "$user"
        fi
    done
    if [ -z "$ROOT" ] && getent group footbath >/dev/null; then run groupdel footbath; fi
}

if [ "$UNINSTALL" = 1 ]; then
    uninstall
    exit 0
fi
find_source
debian_packages
users
software
staff_files
units
hardware_watchdog
udev_rule gpio gpio
udev_rule backlight backlight
boot_config
finish
