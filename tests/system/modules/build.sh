#!/bin/sh
# Build gpio-sim and vkms against the kernel headers installed in this (throwaway) chroot,
# from the same kernel's sources (linux-source-6.1). Run inside the chroot with this folder
# at /build; the modules and the kernel release they are for end up in /build/out.
set -eu
cd /build
headers=$(ls -d /usr/src/linux-headers-*-amd64 | head -n 1)
release=${headers#/usr/src/linux-headers-}
src=linux-source-6.1
# Only the files the two modules need: --occurrence stops reading the archive once each
# named member is found.
tar -xJf /usr/src/$src.tar.xz --occurrence \
    $src/drivers/gpio/gpio-sim.c $src/drivers/gpio/gpiolib.h $src/kernel/irq/irq_sim.c \
    $src/drivers/gpu/drm/vkms/vkms_drv.c $src/drivers/gpu/drm/vkms/vkms_drv.h \
    $src/drivers/gpu/drm/vkms/vkms_plane.c $src/drivers/gpu/drm/vkms/vkms_output.c \
    $src/drivers/gpu/drm/vkms/vkms_formats.c $src/drivers/gpu/drm/vkms/vkms_formats.h \
    $src/drivers/gpu/drm/vkms/vkms_crtc.c $src/drivers/gpu/drm/vkms/vkms_composer.c \
    $src/drivers/gpu/drm/vkms/vkms_writeback.c
mkdir -p work out
cp $src/drivers/gpio/gpio-sim.c work/gpio-sim-core.c
cp $src/drivers/gpio/gpiolib.h $src/kernel/irq/irq_sim.c $src/drivers/gpu/drm/vkms/* work/
cp Kbuild work/Kbuild
for p in *.patch; do
    patch -d work -p3 --no-backup-if-mismatch <"$p"
done
make -s -C "$headers" M=/build/work -j"$(nproc)" modules
cp work/gpio-sim.ko work/vkms.ko out/
echo "$release" >out/kernel-release
dpkg-query -W -f='${Version}\n' "linux-headers-$release" >out/kernel-version
