"""Builds, or finds in its cache, the Debian bookworm disk image the system tests boot.

A Raspberry Pi runs Raspberry Pi OS, which is Debian bookworm: the image is that Debian for
amd64 (QEMU boots it here), made with mmdebstrap from Debian's own packages, with systemd as
PID 1, Debian's 6.1 kernel, python3.11 with venv, and the libraries footbath's installer and
its kiosk need on KMS. Two kernel modules Debian's amd64 kernel lacks stand in for the Pi's
hardware: gpio-sim (the GPIO header, as a chip the tests read and pull) and vkms (a display
with a connected connector). They are built in a throwaway chroot against the matching
linux-headers, from linux-source-6.1, and only the .ko files go into the image.

The result (a raw ext4 disk, the uncompressed kernel and the initrd, booted directly by QEMU)
is cached outside the checkout, in a folder named by a checksum of every input: this file,
the guest files, the module sources and patches, the package list and the mirror. A second
run reuses it; any change to those builds a new one. The cache is never written by a boot
(QEMU runs it with snapshot=on or under a copy-on-write overlay: see vm.py).

    python -m tests.system.image            # build unless cached, then print the manifest
    python -m tests.system.image --rebuild  # build even if cached

The cache folder is $FOOTBATH_SYSTEM_CACHE, else $XDG_CACHE_HOME/footbath-system, else
/var/cache/footbath-system for root and ~/.cache/footbath-system for anyone else.
Building needs root (mmdebstrap's root mode, chroot), mmdebstrap and e2fsprogs: see
tools/system-packages.sh.
"""

import argparse
import concurrent.futures
import contextlib
import fcntl
import hashlib
import json
import lzma
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
GUEST_DIR = HERE / "guest"
MODULES_DIR = HERE / "modules"

SUITE = "bookworm"
MIRROR = os.environ.get("FOOTBATH_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("FOOTBATH_DEBIAN_SECURITY_MIRROR", "http://deb.debian.org/debian-security")

# What the image holds beyond mmdebstrap's "apt" variant (Essential packages and apt).
IMAGE_PACKAGES = (
    # the system: systemd as PID 1, udev for devices, dbus for logind and systemctl's peers
    "systemd", "systemd-sysv", "udev", "dbus", "kmod", "e2fsprogs", "procps",
    "linux-image-amd64", "initramfs-tools",
    # footbath's venv (the installer's DEB_PACKAGES start with python3-venv)
    "python3", "python3-venv",
    # the kiosk on KMS: Mesa's GL/EGL/GLES/GBM with its software drivers, libdrm, and what
    # Kivy's SDL2 opens at run time (libudev for input devices, libmtdev for the touchscreen)
    "libgl1-mesa-dri", "libegl1", "libegl-mesa0", "libgles2", "libgl1", "libgbm1", "libdrm2",
    "libmtdev1", "libudev1",
    # the tests' own tools: set and read GPIO lines from a shell
    "gpiod",
)
# The throwaway chroot the modules are built in; linux-headers-amd64 follows the same kernel
# as linux-image-amd64 in the image.
BUILD_PACKAGES = ("linux-headers-amd64", "linux-source-6.1", "make", "patch", "xz-utils")

DISK_SIZE = "4G"  # sparse: the files take about 1 GB of it; the rest is room for installs
# A fixed machine id: a boot is then never a "first boot" (no preset-all, stable journal).
MACHINE_ID = "f00db47bf00db47bf00db47bf00db47b"

# Guest files: source in tests/system/guest -> path in the image, mode.
GUEST_FILES = (
    ("agent.py", "/usr/local/lib/footbath-test/agent.py", 0o644),
    ("footbath-test-agent.service", "/etc/systemd/system/footbath-test-agent.service", 0o644),
    ("footbath-test-gpio.service", "/etc/systemd/system/footbath-test-gpio.service", 0o644),
    ("gpio-sim-chip", "/usr/local/sbin/gpio-sim-chip", 0o755),
    ("modules-load.conf", "/etc/modules-load.d/footbath-test.conf", 0o644),
    ("fstab", "/etc/fstab", 0o644),
)
GUEST_UNITS = ("footbath-test-agent.service", "footbath-test-gpio.service")

# The initrd only has to find an ext4 root on virtio-blk: a short list keeps it small, and
# a small initrd is quicker to unpack under TCG than Debian's default of most modules.
INITRAMFS_CONF = "MODULES=list\nCOMPRESS=gzip\n"
INITRAMFS_MODULES = "virtio_pci\nvirtio_blk\next4\n"

BUILD_TIMEOUT_S = 900  # each mmdebstrap run; a cold build takes a few minutes here
LOCK_TIMEOUT_S = 1200  # another process building the same cache
KEEP_IMAGES = 2  # older images in the cache are deleted after a build
XZ_MAGIC = b"\xfd7zXZ\x00"


class ImageError(RuntimeError):
    """The image could not be built or found; the message says which step and where to look."""


@dataclass(frozen=True)
class Image:
    """A built image: what vm.py boots."""

    dir: Path
    disk: Path  # raw ext4, the whole of /dev/vda
    kernel: Path
    initrd: Path
    kernel_release: str  # e.g. 6.1.0-41-amd64
    cmdline: str  # the kernel command line the image expects (root, console)
    manifest: dict


def cache_root() -> Path:
    if os.environ.get("FOOTBATH_SYSTEM_CACHE"):
        return Path(os.environ["FOOTBATH_SYSTEM_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "footbath-system"
    if os.geteuid() == 0:
        return Path("/var/cache/footbath-system")
    return Path.home() / ".cache" / "footbath-system"


def input_files() -> list[Path]:
    """Every file whose content shapes the image: its checksum names the cache folder."""
    files = [Path(__file__).resolve()]
    files += sorted(p for p in GUEST_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    files += sorted(p for p in MODULES_DIR.rglob("*") if p.is_file())
    return files


def cache_key() -> str:
    digest = hashlib.sha256()
    for path in input_files():
        digest.update(str(path.relative_to(HERE)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    for setting in (SUITE, MIRROR, SECURITY_MIRROR, DISK_SIZE):
        digest.update(setting.encode() + b"\0")
    return digest.hexdigest()[:16]


def kernel_cmdline() -> str:
    # panic=-1 with QEMU's -no-reboot: a guest that panics or reboots ends QEMU at once
    # rather than hanging the run; console on the first serial port, which vm.py logs.
    # mitigations=off: the side-channel mitigations (page-table isolation above all: a TLB
    # flush at every system call) cost TCG dearly and guard nothing in a test VM; with them
    # a boot took 45-50 s here, without them 22-30 s.
    return "root=/dev/vda rw console=ttyS0,115200 panic=-1 mitigations=off"


def find() -> Image | None:
    """The cached image for the current inputs, or None."""
    return _load(cache_root() / "images" / cache_key())


def _load(folder: Path) -> Image | None:
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        return None
    manifest = json.loads(manifest_path.read_text())
    image = Image(dir=folder, disk=folder / "disk.raw", kernel=folder / "vmlinux",
                  initrd=folder / "initrd.img", kernel_release=manifest["kernel_release"],
                  cmdline=manifest["cmdline"], manifest=manifest)
    if not all(p.is_file() for p in (image.disk, image.kernel, image.initrd)):
        return None
    return image


def ensure(*, rebuild: bool = False, log=print) -> Image:
    """The image for the current inputs: from the cache, or built now (a few minutes)."""
    if not rebuild and (image := find()) is not None:
        return image
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with locked(root / "build.lock"):
        if not rebuild and (image := find()) is not None:  # another process just built it
            return image
        return _build(root, cache_key(), log)


@contextlib.contextmanager
def locked(path: Path, *, timeout_s: float = LOCK_TIMEOUT_S, error: type[Exception] = ImageError,
           hint: str = "another build hung? Remove the lock's holder or the file"):
    """An exclusive lock on PATH, waited for at most timeout_s; then ERROR saying so, with
    HINT. The system tests' caches (images, installed disks) are made by one process while
    the others wait."""
    with open(path, "w") as f:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise error(f"{path} stayed locked for {timeout_s} s: {hint}") from None
                time.sleep(1.0)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _check_host():
    if os.geteuid() != 0:
        raise ImageError("building the image needs root (mmdebstrap's root mode and chroot); "
                         "run as root, or use a cache built by root (FOOTBATH_SYSTEM_CACHE)")
    missing = [tool for tool in ("mmdebstrap", "mkfs.ext4", "chroot") if shutil.which(tool) is None]
    if missing:
        raise ImageError(f"missing {', '.join(missing)}: run sh tools/system-packages.sh")


def _sources() -> list[str]:
    return [f"deb {MIRROR} {SUITE} main", f"deb {MIRROR} {SUITE}-updates main",
            f"deb {SECURITY_MIRROR} {SUITE}-security main"]


def _mmdebstrap(target: Path, packages, hooks, log_path: Path):
    """One mmdebstrap run into the directory TARGET, its output in LOG_PATH."""
    cmd = ["mmdebstrap", "--mode=root", "--variant=apt", "--format=directory",
           "--include=" + ",".join(packages), *hooks, SUITE, str(target), *_sources()]
    started = time.monotonic()
    with open(log_path, "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=BUILD_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise ImageError(f"mmdebstrap into {target} took over {BUILD_TIMEOUT_S} s: see {log_path}") \
                from None
    if proc.returncode != 0:
        raise ImageError(f"mmdebstrap into {target} failed (exit {proc.returncode}): see {log_path}")
    return time.monotonic() - started


def _image_hooks(work: Path) -> list[str]:
    """mmdebstrap hooks that make the image root: initrd settings before the kernel is
    installed, then the test agent, the GPIO chip unit, fstab and the fixed identity."""
    staging = work / "guest-files"
    for name, dest, mode in GUEST_FILES:
        target = staging / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(GUEST_DIR / name, target)
        target.chmod(mode)
    conf = work / "initramfs"
    (conf / "etc/initramfs-tools/conf.d").mkdir(parents=True)
    (conf / "etc/initramfs-tools/conf.d/footbath-test").write_text(INITRAMFS_CONF)
    (conf / "usr/share/initramfs-tools/modules.d").mkdir(parents=True)
    (conf / "usr/share/initramfs-tools/modules.d/footbath-test").write_text(INITRAMFS_MODULES)
    units = " ".join(GUEST_UNITS)
    return [
        f'--essential-hook=cp -a "{conf}/." "$1/"',
        f'--customize-hook=cp -a "{staging}/." "$1/"',
        f'--customize-hook=chroot "$1" systemctl enable {units}',
        '--customize-hook=echo footbath-vm > "$1/etc/hostname"',
        '--customize-hook=mkdir -p "$1/share"',
        # No password, no login: the host reaches the guest through the agent only.
        '--customize-hook=chroot "$1" passwd --lock root',
        # e2fsprogs' boot-time scrub of LVM snapshots: there are none, and it costs 2 s of
        # emulated CPU at every boot.
        '--customize-hook=chroot "$1" systemctl mask e2scrub_reap.service',
    ]


def uncompressed_kernel(vmlinuz: Path) -> bytes:
    """The ELF kernel inside Debian's bzImage (its payload is XZ). QEMU boots it straight into
    64-bit mode through its PVH entry point, which Debian's kernel has: no firmware, no real
    mode, and no decompressing 60 MB under TCG, which costs 3 s of every boot."""
    packed = vmlinuz.read_bytes()
    start = packed.find(XZ_MAGIC)
    if start < 0:
        raise ImageError(f"{vmlinuz}: no XZ payload (has Debian changed the kernel's compression?)")
    elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(packed[start:])
    if not elf.startswith(b"\x7fELF"):
        raise ImageError(f"{vmlinuz}: its XZ payload is not an ELF kernel")
    return elf


def _build_hooks() -> list[str]:
    """mmdebstrap hooks for the throwaway build chroot: copy the module sources in, build."""
    return [
        f'--customize-hook=mkdir -p "$1/build" && cp -a "{MODULES_DIR}/." "$1/build/"',
        '--customize-hook=chroot "$1" sh /build/build.sh',
    ]


def _run(cmd, *, timeout_s: float, what: str):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise ImageError(f"{what} took over {timeout_s} s: {' '.join(map(str, cmd))}") from None
    if proc.returncode != 0:
        raise ImageError(f"{what} failed (exit {proc.returncode}): {' '.join(map(str, cmd))}\n"
                         f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc.stdout


def _build(root: Path, key: str, log) -> Image:
    _check_host()
    started = time.monotonic()
    work = root / f"work-{key}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    image_root, build_root = work / "root", work / "build"
    log(f"building the system-test image {key} in {work} (logs there)")
    try:
        # The image and the build chroot are independent: make both at once.
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            image_job = pool.submit(_mmdebstrap, image_root, IMAGE_PACKAGES, _image_hooks(work),
                                    work / "mmdebstrap-image.log")
            build_job = pool.submit(_mmdebstrap, build_root, BUILD_PACKAGES, _build_hooks(),
                                    work / "mmdebstrap-modules.log")
            image_s, modules_s = image_job.result(), build_job.result()
        log(f"root filesystem {image_s:.0f} s, modules {modules_s:.0f} s (in parallel)")
        release = (build_root / "build/out/kernel-release").read_text().strip()
        headers_version = (build_root / "build/out/kernel-version").read_text().strip()
        image_version = _run(["chroot", str(image_root), "dpkg-query", "-W", "-f=${Version}",
                              f"linux-image-{release}"], timeout_s=60,
                             what="finding the image's kernel").strip()
        if image_version != headers_version:
            raise ImageError(f"the image has linux-image-{release} {image_version} but the modules "
                             f"were built against headers {headers_version}: Debian's mirror moved "
                             "between the two downloads; build again")
        # After mmdebstrap, whose clean-up empties /etc/machine-id.
        (image_root / "etc/machine-id").write_text(MACHINE_ID + "\n")
        modules_dest = image_root / "lib/modules" / release / "updates/footbath-test"
        modules_dest.mkdir(parents=True)
        for ko in ("gpio-sim.ko", "vkms.ko"):
            shutil.copyfile(build_root / "build/out" / ko, modules_dest / ko)
        _run(["chroot", str(image_root), "depmod", "-a", release], timeout_s=120, what="depmod")
        packages = _run(["chroot", str(image_root), "dpkg-query", "-W", "-f=${Package} ${Version}\n"],
                        timeout_s=60, what="listing the image's packages")

        out = work / "out"
        out.mkdir()
        for name in ("mmdebstrap-image.log", "mmdebstrap-modules.log"):
            shutil.copyfile(work / name, out / name)
        (out / "vmlinux").write_bytes(uncompressed_kernel(image_root / "boot" / f"vmlinuz-{release}"))
        shutil.copyfile(image_root / "boot" / f"initrd.img-{release}", out / "initrd.img")
        disk_started = time.monotonic()
        _run(["mkfs.ext4", "-q", "-F", "-L", "footbath-root", "-d", str(image_root),
              str(out / "disk.raw"), DISK_SIZE], timeout_s=300, what="making the ext4 disk")
        disk_s = time.monotonic() - disk_started
        build_s = time.monotonic() - started
        manifest = {
            "key": key, "suite": SUITE, "kernel_release": release, "kernel_version": image_version,
            "cmdline": kernel_cmdline(), "build_s": round(build_s, 1),
            "rootfs_s": round(image_s, 1), "modules_s": round(modules_s, 1), "disk_s": round(disk_s, 1),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "inputs": [str(p.relative_to(HERE)) for p in input_files()],
            "packages": dict(line.split(" ", 1) for line in packages.splitlines() if line),
        }
        (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        final = root / "images" / key
        final.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(final, ignore_errors=True)
        out.rename(final)
    except BaseException:
        log(f"image build failed: its logs are in {work}")
        raise
    shutil.rmtree(work, ignore_errors=True)
    _prune(root / "images", keep=key)
    log(f"image {key} built in {build_s:.0f} s: {final}")
    image = _load(final)
    assert image is not None
    return image


def _prune(images: Path, *, keep: str):
    """Delete all but the KEEP_IMAGES newest images (always keeping KEEP): each is about 1 GB."""
    folders = sorted((p for p in images.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime,
                     reverse=True)
    kept = 0
    for folder in folders:
        if folder.name == keep or kept < KEEP_IMAGES - 1:
            kept += folder.name != keep
            continue
        shutil.rmtree(folder, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.system.image", description=__doc__.split("\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="build even if the cache has this image")
    parser.add_argument("--key", action="store_true", help="print the cache key and folder, build nothing")
    args = parser.parse_args(argv)
    if args.key:
        print(cache_key(), cache_root() / "images" / cache_key())
        return 0
    try:
        image = ensure(rebuild=args.rebuild)
    except ImageError as e:
        print(f"footbath system image: {e}", file=sys.stderr)
        return 1
    summary = {k: v for k, v in image.manifest.items() if k != "packages"}
    print(json.dumps(summary, indent=1))
    print(f"disk {image.disk} ({image.disk.stat().st_blocks * 512 / 1e6:.0f} MB used)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
