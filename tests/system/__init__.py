"""System tests: a real Debian with systemd booted under QEMU (see image.py and vm.py)."""
