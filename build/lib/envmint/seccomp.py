"""The seccomp filter of the sandbox: classic BPF, assembled here in trusted code.

The sandbox's launcher (and the grading zygote, for each child it forks) installs it before any
untrusted code runs. By default it refuses new processes and namespaces and allows everything
else; ``strict=True`` also refuses whatever lets one process of a sandbox reach another.
"""

from __future__ import annotations

import platform

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SYSCALL_NUMBERS = {
    "x86_64": {"clone": 56, "fork": 57, "vfork": 58, "unshare": 272, "setns": 308, "clone3": 435, "prlimit64": 302},
    "aarch64": {"clone": 220, "unshare": 97, "setns": 268, "clone3": 435, "prlimit64": 261},
}
# The strict profile (see seccomp_program) also refuses these: everything by which one process of a sandbox
# can reach another one of the same user (signals, tracing, its memory, its scheduling) and the objects that
# outlive a process inside the sandbox (System V IPC, POSIX message queues, keyrings). (name, x86_64, aarch64)
_STRICT_DENY_TABLE = [
    ("ptrace", 101, 117),
    ("process_vm_readv", 310, 270),
    ("process_vm_writev", 311, 271),
    ("process_madvise", 440, 440),
    ("kill", 62, 129),
    ("tkill", 200, 130),
    ("tgkill", 234, 131),
    ("rt_sigqueueinfo", 129, 138),
    ("rt_tgsigqueueinfo", 297, 240),
    ("pidfd_open", 434, 434),
    ("pidfd_send_signal", 424, 424),
    ("pidfd_getfd", 438, 438),
    ("setpriority", 141, 140),
    ("sched_setaffinity", 203, 122),
    ("sched_setscheduler", 144, 119),
    ("sched_setparam", 142, 118),
    ("sched_setattr", 314, 274),
    ("ioprio_set", 251, 30),
    ("shmget", 29, 194),
    ("msgget", 68, 186),
    ("semget", 64, 190),
    ("mq_open", 240, 180),
    ("add_key", 248, 217),
    ("request_key", 249, 218),
    ("keyctl", 250, 219),
]
_STRICT_DENY = {
    "x86_64": {name: x86 for name, x86, _ in _STRICT_DENY_TABLE},
    "aarch64": {name: arm for name, _, arm in _STRICT_DENY_TABLE},
}
_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_EPERM = 1
_ENOSYS = 38
_CLONE_THREAD = 0x00010000
_X32_SYSCALL_BIT = 0x40000000
# offsets in struct seccomp_data: nr (u32), arch (u32), instruction_pointer (u64), args[6] (u64)
_OFF_NR, _OFF_ARCH, _OFF_ARG0_LOW, _OFF_ARG0_HIGH = 0, 4, 16, 20  # args[0] in halves; both arches are little-endian


def seccomp_program(machine: str | None = None, *, allow_processes: bool = False, strict: bool = False) -> bytes | None:
    """The filter as ``struct sock_filter[]`` bytes, or None on an architecture it does not know.

    By default it refuses new processes and namespaces and allows threads and everything else.
    Unknown architectures (a 32-bit syscall ABI entered from a 64-bit process, x32) get ``EPERM``.

    ``allow_processes=True`` (for a trusted process that forks children and filters each of them
    itself, see :mod:`envmint.grading.zygote`) still refuses namespaces but allows ``fork`` and
    ``clone``. ``strict=True`` also refuses what would let a process touch another process of the
    same sandbox or leave something behind it (:data:`_STRICT_DENY`), and ``prlimit64`` on any
    process but itself.
    """
    machine = machine or platform.machine()
    arch = _AUDIT_ARCH.get(machine)
    if arch is None:
        return None
    numbers = _SYSCALL_NUMBERS[machine]
    # (code, k, jump-if-true label, jump-if-false label); None means "the next instruction".
    program: list[tuple[int, int, str | None, str | None]] = [
        (_BPF_LD_W_ABS, _OFF_ARCH, None, None),
        (_BPF_JEQ_K, arch, None, "eperm"),
        (_BPF_LD_W_ABS, _OFF_NR, None, None),
    ]
    if machine == "x86_64":
        program.append((_BPF_JGE_K, _X32_SYSCALL_BIT, "eperm", None))
    actions = {"clone3": "enosys", "fork": "eperm", "vfork": "eperm", "unshare": "eperm", "setns": "eperm"}
    for name, label in actions.items():
        if name in numbers and not (allow_processes and name in ("fork", "vfork")):
            program.append((_BPF_JEQ_K, numbers[name], label, None))
    if strict:
        program += [(_BPF_JEQ_K, number, "eperm", None) for number in _STRICT_DENY[machine].values()]
        program.append((_BPF_JEQ_K, numbers["prlimit64"], "prlimit", None))
    if not allow_processes:  # else fall through to "allow"
        program += [
            (_BPF_JEQ_K, numbers["clone"], None, "allow"),
            (_BPF_LD_W_ABS, _OFF_ARG0_LOW, None, None),
            (_BPF_JSET_K, _CLONE_THREAD, "allow", "eperm"),
        ]
    labels = {"allow": len(program), "eperm": len(program) + 1, "enosys": len(program) + 2}
    program += [
        (_BPF_RET_K, _RET_ALLOW, None, None),
        (_BPF_RET_K, _RET_ERRNO | _EPERM, None, None),
        (_BPF_RET_K, _RET_ERRNO | _ENOSYS, None, None),
    ]
    if strict:  # prlimit64(pid, ...) with pid 0 (this process) only
        labels["prlimit"] = len(program)
        program += [
            (_BPF_LD_W_ABS, _OFF_ARG0_LOW, None, None),
            (_BPF_JEQ_K, 0, None, "eperm_again"),
            (_BPF_LD_W_ABS, _OFF_ARG0_HIGH, None, None),
            (_BPF_JEQ_K, 0, "allow_again", "eperm_again"),
        ]
        labels |= {"allow_again": len(program), "eperm_again": len(program) + 1}  # BPF jumps only forward
        program += [(_BPF_RET_K, _RET_ALLOW, None, None), (_BPF_RET_K, _RET_ERRNO | _EPERM, None, None)]
    out = bytearray()
    for index, (code, k, jt, jf) in enumerate(program):
        jump_true = labels[jt] - index - 1 if jt else 0
        jump_false = labels[jf] - index - 1 if jf else 0
        assert 0 <= jump_true < 256 and 0 <= jump_false < 256, "a BPF jump must fit in one byte"
        out += code.to_bytes(2, "little") + bytes([jump_true, jump_false]) + k.to_bytes(4, "little")
    return bytes(out)
