#!/bin/sh
# Install the Debian packages the system tests (tests/system) need on the host, only when
# some are missing: QEMU to boot the image, mmdebstrap and e2fsprogs to build it.
set -eu
# qemu-system-x86: the VM (TCG, 9p share, virtio-serial); qemu-utils: qemu-img, for the
# writable copies of the disk; mmdebstrap: the Debian root filesystem and the chroot the
# kernel modules are built in; e2fsprogs: mkfs.ext4 -d, which makes the disk from a folder;
# debian-archive-keyring: to check what mmdebstrap downloads.
PACKAGES="qemu-system-x86 qemu-utils mmdebstrap e2fsprogs debian-archive-keyring"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
missing=$(echo $missing)
[ -z "$missing" ] && exit 0
echo "Installing Debian packages: $missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
# Without recommends: QEMU's would bring its GTK front end and UEFI firmware, unused here.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
