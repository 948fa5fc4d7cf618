#!/bin/sh
# Install the Debian packages the kiosk and its tests need, only when some are missing.
set -eu
# python3-venv: the venv; libgl1 libegl1 libgl1-mesa-dri: Kivy's OpenGL, rendered off-screen by
# Mesa in the tests; libmtdev1: Kivy's touch input (the panel); systemd: systemd-analyze for the
# unit tests; mosquitto: a real MQTT broker for the telemetry tests; openssl: their test CA.
PACKAGES="python3-venv libgl1 libegl1 libgl1-mesa-dri libmtdev1 systemd mosquitto openssl"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# A Python built outside Debian (pyenv, say) brings its own venv module.
if [ -n "$missing" ] && python3 -c "import ensurepip, venv" 2>/dev/null; then
    missing=$(echo "$missing" | sed 's/python3-venv//')
fi
missing=$(echo $missing)
[ -z "$missing" ] && exit 0
echo "Installing Debian packages: $missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
