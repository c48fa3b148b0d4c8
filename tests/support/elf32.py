"""A tiny 32-bit (i386) Linux program, assembled by hand: there is no 32-bit compiler here.

It writes ``ok`` with write(2), tries unshare(CLONE_NEWUSER) and exits with the
errno that call failed with (0 when it succeeded).  Under a seccomp filter that
refuses the whole i386 ABI it prints nothing.
"""

from __future__ import annotations

import struct
from pathlib import Path

_BASE = 0x08048000
_HEADERS = 52 + 32  # ELF header + one program header


def write_probe(path: Path) -> Path:
    code = b"".join([
        b"\xb8\x04\x00\x00\x00",  # mov eax, 4 (write)
        b"\xbb\x01\x00\x00\x00",  # mov ebx, 1
        b"\xb9MSGA",  # mov ecx, msg
        b"\xba\x03\x00\x00\x00",  # mov edx, 3
        b"\xcd\x80",  # int 0x80
        b"\xb8\x36\x01\x00\x00",  # mov eax, 310 (unshare)
        b"\xbb\x00\x00\x00\x10",  # mov ebx, CLONE_NEWUSER
        b"\xcd\x80",
        b"\xf7\xd8",  # neg eax: the errno
        b"\x89\xc3",  # mov ebx, eax
        b"\xb8\x01\x00\x00\x00",  # mov eax, 1 (exit)
        b"\xcd\x80",
    ])  # fmt: skip
    code = code.replace(b"MSGA", struct.pack("<I", _BASE + _HEADERS + len(code))) + b"ok\n"
    size = _HEADERS + len(code)
    elf = b"\x7fELF\x01\x01\x01\x00" + bytes(8)
    elf += struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, _BASE + _HEADERS, 52, 0, 0, 52, 32, 1, 0, 0, 0)
    elf += struct.pack("<IIIIIIII", 1, 0, _BASE, _BASE, size, size, 5, 0x1000)
    path.write_bytes(elf + code)
    path.chmod(0o755)
    return path
