"""Boots the system-test image under QEMU and runs commands in it.

QEMU runs with TCG (`-accel tcg -cpu max`, AVX off: see CPU): this machine's /dev/kvm cannot run a stock
kernel. The kernel (uncompressed, through its PVH entry: image.py) and initrd are booted
directly, with no firmware, no network
(`-nic none`) and no display adapter (vkms, built into the image, is the only KMS card).
What the guest sees of the host:

- the disk: the cached image with `snapshot=on` (writes vanish when QEMU ends, the cache
  never changes), or a writable copy made by `writable_copy()`: a qcow2 overlay on the
  cached disk that keeps what the guest wrote across boots, for power-cut drills;
- a host folder, shared with 9p and mounted at /share;
- a virtio-serial port to the test agent (guest/agent.py), which runs each command and
  answers with its output, exit code and the guest's uptime;
- the first serial port, the console, saved to `serial_log` (one file per boot): the
  place to look when a boot or a command fails.

Every wait has a deadline: a guest that hangs costs a test its timeout, never the run.

    with VM(image.ensure()) as vm:
        vm.boot()
        print(vm.run("systemctl is-system-running --wait", timeout_s=120).stdout)
        vm.power_cut()
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.system.image import Image

AGENT_PORT = "org.footbath.agent"
SHARE_TAG = "share"
GUEST_SHARE = "/share"
REPLY_GRACE_S = 15.0  # beyond a command's own timeout, for the guest to kill it and answer
QEMU_EXIT_TIMEOUT_S = 10.0  # for QEMU to go after SIGKILL or once the guest is off
TAIL_LINES = 25  # of the serial log, quoted in errors


# No AVX: the kiosk's software GL (Mesa's llvmpipe) compiles AVX2 gathers that QEMU 7.2's
# TCG, new to AVX, now and then runs wrong, and the kiosk died with a segfault in them
# (a Pi's processor has no AVX at all: the kiosk there draws through the GPU).
CPU = "max,avx=off,avx2=off"
SHARE_MOUNTED = ("for i in $(seq 50); do mountpoint -q /share && exit 0; mount /share 2>/dev/null; "
                 "sleep 0.2; done; mount /share")


class VMError(RuntimeError):
    """The VM did not do what was asked; the message names the serial log to read."""


class GuestTimeout(VMError):
    """A command ran past its timeout (the guest killed it) or no answer came back."""


class GuestCommandError(VMError):
    """A command run with check=True exited non-zero."""


@dataclass(frozen=True)
class Result:
    cmd: str | list
    rc: int
    stdout: str
    stderr: str
    start_uptime_s: float  # guest uptime when the command started
    end_uptime_s: float  # and when it ended

    @property
    def duration_s(self) -> float:
        return self.end_uptime_s - self.start_uptime_s


@dataclass(frozen=True)
class Background:
    pid: int  # in the guest; `vm.run(f"kill {pid}")` stops it
    log: str  # guest path of its stdout and stderr, ending with "[agent: exit N ...]"
    start_uptime_s: float


@dataclass(frozen=True)
class BootReport:
    host_s: float  # from QEMU's start to the agent's first word
    uptime_s: float  # the guest's uptime then (kernel + userspace to the agent)
    serial_log: Path


@dataclass(frozen=True)
class StopReport:
    host_s: float  # from the request (or the kill) to QEMU gone
    last_uptime_s: float | None  # the last guest uptime the host heard
    how: str  # "poweroff" or "power cut"


def writable_copy(image: Image, path: Path | str) -> Path:
    """A disk that keeps the guest's writes across boots: a qcow2 overlay backed by the
    cached image (which it never writes). Making one takes milliseconds; delete it after."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image.disk), "-F", "raw", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise VMError(f"qemu-img could not make {path}: {proc.stderr.strip()}")
    return path


def overlay(base: Path | str, path: Path | str) -> Path:
    """A writable copy of another writable copy (or of any qcow2 disk): a qcow2 overlay backed
    by BASE, which it never writes. For drills that start from a prepared disk (footbath
    installed, say) without changing it; QEMU must not run on BASE meanwhile."""
    base, path = Path(base).resolve(), Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(base), "-F", "qcow2", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        raise VMError(f"qemu-img could not make {path} on {base}: {proc.stderr.strip()}")
    return path


class VM:
    """One virtual machine: boot it, run commands, cut its power or shut it down, boot again.

    image: what image.ensure() returned. disk: None boots the cached disk with snapshot=on;
    a path from writable_copy() boots that, keeping its writes. share: the host folder the
    guest mounts at /share (default: a new folder under workdir). workdir: where the serial
    logs, QEMU's own log and the agent socket go (default: a new temporary folder, kept after
    close() so the logs can be read).
    """

    def __init__(self, image: Image, *, disk: Path | str | None = None, share: Path | str | None = None,
                 workdir: Path | str | None = None, memory_mb: int = 2048, cpus: int = 2,
                 boot_timeout_s: float = 240.0, extra_qemu_args: tuple = (), kernel_args: str = "",
                 log=print):
        self.image = image
        self.disk = Path(disk) if disk else None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="footbath-vm-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.share = Path(share) if share else self.workdir / "share"
        self.share.mkdir(parents=True, exist_ok=True)
        self.memory_mb, self.cpus = memory_mb, cpus
        self.boot_timeout_s = boot_timeout_s
        self.extra_qemu_args = tuple(extra_qemu_args)
        self.kernel_args = kernel_args  # appended to the image's command line (systemd.mask=..., say)
        self.log = log
        self.boots = 0
        self.serial_log = self.workdir / "serial-0.log"
        self.events: list[tuple[float, dict]] = []  # (host monotonic s, agent event)
        self.last_uptime_s: float | None = None
        self._qemu: subprocess.Popen | None = None
        self._conn: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._replies: dict[int, dict] = {}
        self._cond = threading.Condition()
        self._next_id = 0
        self._send_lock = threading.Lock()

    # ---- life cycle ----

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def running(self) -> bool:
        return self._qemu is not None and self._qemu.poll() is None

    def qemu_command(self, socket_path: Path) -> list[str]:
        if self.disk is None:
            drive = f"file={self.image.disk},format=raw,if=virtio,snapshot=on"
        else:
            drive = f"file={self.disk},format=qcow2,if=virtio,cache=writeback"
        return [
            "qemu-system-x86_64", "-accel", "tcg", "-cpu", CPU, "-smp", str(self.cpus),
            "-m", str(self.memory_mb), "-nic", "none", "-nodefaults", "-no-reboot",
            "-display", "none", "-vga", "none",
            "-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd),
            "-append", f"{self.image.cmdline} {self.kernel_args}".strip(),
            "-drive", drive,
            "-serial", f"file:{self.serial_log}",
            "-virtfs", f"local,path={self.share},mount_tag={SHARE_TAG},security_model=none,id={SHARE_TAG}",
            "-device", "virtio-serial-pci",
            "-chardev", f"socket,id=agent,path={socket_path}",
            "-device", f"virtserialport,chardev=agent,name={AGENT_PORT}",
            "-device", "virtio-rng-pci",
            *self.extra_qemu_args,
        ]

    def boot(self) -> BootReport:
        """Start QEMU and wait for the agent in the booted guest (at most boot_timeout_s)."""
        if self.running:
            raise VMError("boot() while the VM is running: power_cut() or shutdown() first")
        self.boots += 1
        self.serial_log = self.workdir / f"serial-{self.boots}.log"
        # A Unix socket's path may not exceed 107 bytes, and a test's workdir can: the socket
        # lives in a short folder of its own until QEMU has connected.
        socket_dir = Path(tempfile.mkdtemp(prefix="fbvm-", dir="/tmp" if Path("/tmp").is_dir() else None))
        socket_path = socket_dir / "agent.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(socket_path))
        listener.listen(1)
        listener.settimeout(QEMU_EXIT_TIMEOUT_S)
        with self._cond:
            self._replies.clear()
            self.events.clear()
        started = time.monotonic()
        qemu_log = open(self.workdir / f"qemu-{self.boots}.log", "w")  # noqa: SIM115 (QEMU keeps it)
        try:
            self._qemu = subprocess.Popen(self.qemu_command(socket_path), stdin=subprocess.DEVNULL,
                                          stdout=qemu_log, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        finally:
            qemu_log.close()
        try:
            self._conn, _ = listener.accept()
        except TimeoutError:
            self._kill()
            raise VMError(f"QEMU did not connect the agent port in {QEMU_EXIT_TIMEOUT_S} s: see "
                          f"{self.workdir}/qemu-{self.boots}.log") from None
        finally:
            listener.close()
            shutil.rmtree(socket_dir, ignore_errors=True)
        self._conn.settimeout(REPLY_GRACE_S)  # for sends; the reader lets its recv time out
        self._reader = threading.Thread(target=self._read_replies, args=(self._conn,), daemon=True)
        self._reader.start()
        event = self._wait_event("ready", started + self.boot_timeout_s)
        report = BootReport(host_s=event[0] - started, uptime_s=event[1]["uptime_s"],
                            serial_log=self.serial_log)
        # On a busy host the boot's mount of the share can come before the 9p driver has found
        # its virtio device ("no channels available") and fail: mount it again until it holds.
        mounted = self.run(SHARE_MOUNTED, timeout_s=60, check=False)
        if mounted.rc != 0:
            raise VMError(f"the share is not mounted at /share in the guest: {mounted.stderr.strip()}; "
                          f"serial log {self.serial_log}")
        self.log(f"vm: booted in {report.host_s:.1f} s (guest uptime {report.uptime_s:.1f} s at the "
                 f"agent); serial log {self.serial_log}")
        return report

    def shutdown(self, timeout_s: float = 90.0) -> StopReport:
        """A clean power-off (systemctl poweroff), waited for; QEMU then ends by itself."""
        if not self.running:
            raise VMError("shutdown() but the VM is not running")
        started = time.monotonic()
        self._send({"id": self._new_id(), "cmd": "systemctl poweroff", "background": True})
        try:
            self._qemu.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._kill()
            raise VMError(f"the guest did not power off in {timeout_s} s (QEMU killed): see "
                          f"{self.serial_log}\n{self.serial_tail()}") from None
        report = StopReport(host_s=time.monotonic() - started, last_uptime_s=self.last_uptime_s,
                            how="poweroff")
        self._disconnect()
        self.log(f"vm: powered off in {report.host_s:.1f} s")
        return report

    def power_cut(self, *, after_s: float = 0.0) -> StopReport:
        """Kill QEMU (SIGKILL) after_s seconds from now, as a power cut: what the guest had not
        yet written to its disk is lost (its page cache, unflushed journal); what had reached
        the disk stays on a writable copy. Raises VMError if QEMU had already ended."""
        if after_s > 0:
            time.sleep(after_s)
        if not self.running:
            raise VMError(f"power_cut() but QEMU had already ended: see {self.serial_log}")
        started = time.monotonic()
        self._kill()
        report = StopReport(host_s=time.monotonic() - started, last_uptime_s=self.last_uptime_s,
                            how="power cut")
        self.log(f"vm: power cut at guest uptime {self.last_uptime_s}")
        return report

    def close(self):
        """End QEMU if it runs (killed: nothing is waited for). Logs stay in workdir."""
        if self.running:
            self._kill()
        self._disconnect()

    def _kill(self):
        if self._qemu is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._qemu.pid, signal.SIGKILL)
        try:
            self._qemu.wait(timeout=QEMU_EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise VMError(f"QEMU (pid {self._qemu.pid}) outlived SIGKILL by {QEMU_EXIT_TIMEOUT_S} s") \
                from None
        self._disconnect()

    def _disconnect(self):
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.shutdown(socket.SHUT_RDWR)  # wakes the reader's recv at once
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = None
        if self._reader is not None:
            self._reader.join(timeout=QEMU_EXIT_TIMEOUT_S)
            self._reader = None

    # ---- commands ----

    def run(self, cmd: str | list, *, timeout_s: float = 60.0, check: bool = True,
            env: dict | None = None, cwd: str | None = None, input: str | None = None) -> Result:
        """Run CMD in the guest (a string through /bin/sh -c, a list as is) as root and wait for
        it. Past timeout_s the guest kills it and GuestTimeout is raised; with check, a non-zero
        exit raises GuestCommandError. Both carry the output and the serial log's path."""
        request = {"id": self._new_id(), "cmd": cmd, "timeout_s": timeout_s, "env": env or {},
                   "cwd": cwd, "input": input}
        self._send(request)
        reply = self._wait_reply(request["id"], time.monotonic() + timeout_s + REPLY_GRACE_S, cmd)
        result = Result(cmd=cmd, rc=reply["rc"], stdout=reply["stdout"], stderr=reply["stderr"],
                        start_uptime_s=reply["start_uptime_s"], end_uptime_s=reply["end_uptime_s"])
        if reply["timed_out"]:
            raise GuestTimeout(f"{_show(cmd)} ran over {timeout_s} s in the guest and was killed\n"
                               f"{_outputs(result)}serial log: {self.serial_log}")
        if check and result.rc != 0:
            raise GuestCommandError(f"{_show(cmd)} exited {result.rc} in the guest\n{_outputs(result)}"
                                    f"serial log: {self.serial_log}")
        return result

    def run_background(self, cmd: str | list, *, log: str | None = None, env: dict | None = None,
                       cwd: str | None = None) -> Background:
        """Start CMD in the guest and return at once; its output goes to the guest file LOG
        (default /var/log/footbath-test/ID.log)."""
        request = {"id": self._new_id(), "cmd": cmd, "background": True, "log": log, "env": env or {},
                   "cwd": cwd}
        self._send(request)
        reply = self._wait_reply(request["id"], time.monotonic() + REPLY_GRACE_S, cmd)
        if reply.get("pid") is None:
            raise VMError(f"{_show(cmd)} did not start in the guest: {reply.get('error')}")
        return Background(pid=reply["pid"], log=reply["log"], start_uptime_s=reply["start_uptime_s"])

    def wait_until(self, cmd: str | list, *, timeout_s: float, interval_s: float = 0.5) -> Result:
        """Run CMD again and again until it exits 0 (returned) or timeout_s passes (GuestTimeout)."""
        deadline = time.monotonic() + timeout_s
        while True:
            left_s = deadline - time.monotonic()
            result = self.run(cmd, timeout_s=max(1.0, left_s), check=False)
            if result.rc == 0:
                return result
            if time.monotonic() + interval_s > deadline:
                raise GuestTimeout(f"{_show(cmd)} did not succeed within {timeout_s} s; last time:\n"
                                   f"{_outputs(result)}serial log: {self.serial_log}")
            time.sleep(interval_s)

    def uptime_s(self) -> float:
        """The guest's uptime now (read from /proc/uptime)."""
        return float(self.run("cat /proc/uptime", timeout_s=30).stdout.split()[0])

    def unit_uptime_s(self, unit: str, event: str = "ActiveEnter") -> float | None:
        """The guest uptime at which systemd saw UNIT's EVENT (ActiveEnter, ActiveExit,
        InactiveEnter, InactiveExit), or None if it has not happened this boot: boot-time
        figures straight from systemd's own clock."""
        prop = f"{event}TimestampMonotonic"
        value = self.run(["systemctl", "show", "-P", prop, unit], timeout_s=30).stdout.strip()
        return int(value) / 1e6 if value and value != "0" else None

    def serial_tail(self, lines: int = TAIL_LINES) -> str:
        try:
            text = self.serial_log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # ---- the agent's port ----

    def _new_id(self) -> int:
        with self._cond:
            self._next_id += 1
            return self._next_id

    def _send(self, message: dict):
        if self._conn is None or not self.running:
            raise VMError(f"the VM is not running: see {self.serial_log}")
        data = (json.dumps(message) + "\n").encode()
        with self._send_lock:
            try:
                self._conn.sendall(data)  # the socket's timeout: REPLY_GRACE_S
            except OSError as e:
                raise VMError(f"cannot reach the guest agent ({e}): see {self.serial_log}") from None

    def _read_replies(self, conn: socket.socket):
        """The reader thread: files each reply under its id and each event in self.events,
        until QEMU closes the port (or close() closes the socket)."""
        buffer = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:  # a quiet guest (a long command): keep listening
                continue
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                with self._cond:
                    uptime_s = message.get("uptime_s", message.get("end_uptime_s"))
                    if uptime_s is not None:
                        self.last_uptime_s = uptime_s
                    if "event" in message:
                        self.events.append((time.monotonic(), message))
                    else:
                        self._replies[message.get("id")] = message
                    self._cond.notify_all()

    def _wait_reply(self, request_id: int, deadline: float, cmd) -> dict:
        with self._cond:
            while request_id not in self._replies:
                self._check_alive(f"waiting for {_show(cmd)}")
                left_s = deadline - time.monotonic()
                if left_s <= 0:
                    raise GuestTimeout(f"no answer from the guest for {_show(cmd)}: see "
                                       f"{self.serial_log}\n{self.serial_tail()}")
                self._cond.wait(min(left_s, 1.0))
            return self._replies.pop(request_id)

    def _wait_event(self, name: str, deadline: float) -> tuple[float, dict]:
        with self._cond:
            while True:
                for when, event in self.events:
                    if event.get("event") == name:
                        return when, event
                self._check_alive(f"waiting for the agent's {name!r}")
                left_s = deadline - time.monotonic()
                if left_s <= 0:
                    self._cond.release()
                    try:
                        self._kill()
                    finally:
                        self._cond.acquire()
                    raise VMError(f"no {name!r} from the guest agent in time (QEMU killed): see "
                                  f"{self.serial_log}\n{self.serial_tail()}")
                self._cond.wait(min(left_s, 1.0))

    def _check_alive(self, doing: str):
        if self._qemu is not None and self._qemu.poll() is not None:
            raise VMError(f"QEMU ended (exit {self._qemu.returncode}) while {doing}: see "
                          f"{self.serial_log} and {self.workdir}/qemu-{self.boots}.log\n{self.serial_tail()}")


def _show(cmd) -> str:
    return repr(cmd if isinstance(cmd, str) else " ".join(map(str, cmd)))


def _outputs(result: Result) -> str:
    return f"--- stdout\n{result.stdout[-3000:]}--- stderr\n{result.stderr[-3000:]}---\n"


def qemu_available() -> str | None:
    """None when this host can boot the image, else why not (one line)."""
    for tool in ("qemu-system-x86_64", "qemu-img"):
        if shutil.which(tool) is None:
            return f"{tool} is missing: run sh tools/system-packages.sh"
    return None
