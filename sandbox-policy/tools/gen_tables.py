#!/usr/bin/env python3
"""Generates the syscall and constant tables in sandbox-policy/src/tables/.

Usage:
    python3 sandbox-policy/tools/gen_tables.py           # rewrite the tables
    python3 sandbox-policy/tools/gen_tables.py --check   # exit 1 if a table is stale

Writes x86_64.rs, aarch64.rs and constants.rs beside tables/mod.rs, formatted with rustfmt, so
that regenerating from the same inputs yields the same bytes. Needs python3 (standard library
only), the host gcc and rustfmt, and these inputs (all Linux 6.1):

* Syscall numbers: the x86_64 UAPI <asm/unistd.h> (unistd_64.h, from linux-libc-dev) and the
  arm64 UAPI <asm/unistd.h> (asm-generic/unistd.h with arm64's __ARCH_WANT_* defines, from
  linux-libc-dev-arm64-cross), evaluated by the C preprocessor. For arm64 the preprocessed
  __SYSCALL(nr, entry) lines also name each number's kernel entry point; x86_64's entry points
  are sys_<name> except for the few listed in X86_64_ENTRY_POINTS.
* Prototypes: include/linux/syscalls.h from linux-headers-6.1.0-50-common, read under the
  configuration in SYSCALLS_H_CONDITIONS, plus the hand-written OVERRIDES (arch-specific
  syscalls that header lacks or declares differently) and LATER_SYSCALLS (added after 6.1, up
  to 6.18).
* Constants and errnos: each architecture's UAPI headers, evaluated by compiling a C file with
  the host gcc. Nothing is run: every value is printed into the assembly output as an immediate
  operand, so the same method works for the foreign architecture. The few names the UAPI
  headers lack are copied from the kernel's internal headers (KERNEL_INTERNAL_DEFINES) or
  spelled as the C library spells them (aliases such as O_ASYNC=FASYNC in CONSTANT_GROUPS).

Every syscall must get a prototype and every listed constant a value on both architectures,
unless a table below says otherwise; any gap or unknown C type stops the script with a list.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TABLES_DIR = os.path.join(ROOT, "sandbox-policy", "src", "tables")
SCRIPT = "sandbox-policy/tools/gen_tables.py"

KERNEL_HEADERS = "/usr/src/linux-headers-6.1.0-50-common"
SYSCALLS_H = KERNEL_HEADERS + "/include/linux/syscalls.h"
# The x86_64 UAPI headers are split between /usr/include and the multiarch directory; they are
# gathered into one directory of symlinks so that both architectures are compiled the same way.
X86_64_UAPI = {
    "linux": "/usr/include/linux",
    "asm": "/usr/include/x86_64-linux-gnu/asm",
    "asm-generic": "/usr/include/asm-generic",
}
AARCH64_UAPI = "/usr/aarch64-linux-gnu/include"
X86_64_UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
I386_UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_32.h"
X32_UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_x32.h"
AARCH64_UNISTD = AARCH64_UAPI + "/asm/unistd.h"

ARCHES = ("x86_64", "aarch64")

# ------------------------------------------------------------------------------------------
# Syscalls
# ------------------------------------------------------------------------------------------

# x86_64 syscalls whose kernel entry point is not sys_<name> (arch/x86/entry/syscalls/
# syscall_64.tbl). arm64's entry points come from asm-generic/unistd.h itself.
X86_64_ENTRY_POINTS = {
    "stat": "sys_newstat",
    "fstat": "sys_newfstat",
    "lstat": "sys_newlstat",
    "sendfile": "sys_sendfile64",
    "uname": "sys_newuname",
    "umount2": "sys_umount",
}

# Numbers the kernel does not implement (no entry point, or sys_ni_syscall): they take no
# arguments and fail with ENOSYS.
UNIMPLEMENTED = {
    "x86_64": {
        "_sysctl",
        "afs_syscall",
        "create_module",
        "epoll_ctl_old",
        "epoll_wait_old",
        "get_kernel_syms",
        "getpmsg",
        "nfsservctl",
        "putpmsg",
        "query_module",
        "security",
        "tuxcall",
        "vserver",
    },
    "aarch64": {"nfsservctl"},
}

# Prototypes include/linux/syscalls.h lacks or declares differently from the architecture's
# SYSCALL_DEFINE. These win over the header; where the header also declares the entry point,
# the argument types must agree.
OVERRIDES = {
    "x86_64": {
        # arch/x86/kernel/process_64.c
        "arch_prctl": "int option, unsigned long arg2",
        # arch/x86/kernel/ldt.c
        "modify_ldt": "int func, void __user *ptr, unsigned long bytecount",
        # arch/x86/kernel/ioport.c
        "iopl": "unsigned int level",
        "ioperm": "unsigned long from, unsigned long num, int turn_on",
        # arch/x86/kernel/sys_x86_64.c. The kernel declares fd `unsigned long` but hands it to
        # fget(unsigned int): only its low 32 bits count, so it is compared as such.
        "mmap": "unsigned long addr, unsigned long length, unsigned long prot,"
        " unsigned long flags, unsigned int fd, unsigned long offset",
        # arch/x86/kernel/signal.c
        "rt_sigreturn": "void",
        # kernel/fork.c without CONFIG_CLONE_BACKWARDS*. The kernel reads only
        # lower_32_bits(clone_flags), so flags are compared on their low 32 bits.
        "clone": "unsigned int flags, unsigned long stack, int __user *parent_tid,"
        " int __user *child_tid, unsigned long tls",
        # arch/x86/kernel/tls.c: only the 32-bit ABIs implement these; the numbers exist.
        "set_thread_area": "struct user_desc __user *u_info",
        "get_thread_area": "struct user_desc __user *u_info",
    },
    "aarch64": {
        # arch/arm64/kernel/sys.c; fd as on x86_64.
        "mmap": "unsigned long addr, unsigned long length, unsigned long prot,"
        " unsigned long flags, unsigned int fd, unsigned long offset",
        # arch/arm64/kernel/signal.c
        "rt_sigreturn": "void",
        # kernel/fork.c with CONFIG_CLONE_BACKWARDS: tls before child_tid; flags as on x86_64.
        "clone": "unsigned int flags, unsigned long stack, int __user *parent_tid,"
        " unsigned long tls, int __user *child_tid",
    },
}

# Arguments the kernel declares `unsigned long` or `long` but hands on as an int or unsigned int,
# so that it reads only their low 32 bits: compared on those, as the kernel reads them, so that a
# deny rule cannot be bypassed by setting the high bits. Each was checked on Linux 6.18 (x86_64)
# by a call with bit 32 set that acted as its low word alone. (process_vm_readv's riovcnt is not
# here: with bit 32 set the kernel refuses the call.)
NARROWED = {
    # fdget_pos(unsigned int fd); import_iovec(..., unsigned int nr_segs, ...)
    "readv": {"fd": "U32", "iovcnt": "U32"},
    "writev": {"fd": "U32", "iovcnt": "U32"},
    "preadv": {"fd": "U32", "vlen": "U32"},
    "pwritev": {"fd": "U32", "vlen": "U32"},
    "preadv2": {"fd": "U32", "vlen": "U32"},
    "pwritev2": {"fd": "U32", "vlen": "U32"},
    "vmsplice": {"nr_segs": "U32"},
    "process_vm_readv": {"liovcnt": "U32"},
    "process_vm_writev": {"liovcnt": "U32"},
    "process_madvise": {"vlen": "U32"},
    # get_file_raw_ptr(task, unsigned int idx)
    "kcmp": {"idx1": "U32", "idx2": "U32"},
    # kernel_mbind: int lmode = mode
    "mbind": {"mode": "I32"},
    # find_get_task_by_vpid(pid_t nr)
    "ptrace": {"pid": "I32"},
}

# Syscalls added after Linux 6.1, up to 6.18, with their numbers (the same on both
# architectures where both have them) and prototypes as in include/linux/syscalls.h.
LATER_SYSCALLS = [
    # x86_64 only: trampolines the kernel's uprobe code calls; not for direct use.
    ("uretprobe", {"x86_64": 335}, "void"),
    ("uprobe", {"x86_64": 336}, "void"),
    # 6.5
    (
        "cachestat",
        {"x86_64": 451, "aarch64": 451},
        "unsigned int fd, struct cachestat_range __user *cstat_range,"
        " struct cachestat __user *cstat, unsigned int flags",
    ),
    # 6.6
    (
        "fchmodat2",
        {"x86_64": 452, "aarch64": 452},
        "int dfd, const char __user *filename, umode_t mode, unsigned int flags",
    ),
    # 6.6 (x86_64 shadow stacks); arm64 implements it since 6.13 (GCS).
    (
        "map_shadow_stack",
        {"x86_64": 453, "aarch64": 453},
        "unsigned long addr, unsigned long size, unsigned int flags",
    ),
    # 6.7
    (
        "futex_wake",
        {"x86_64": 454, "aarch64": 454},
        "void __user *uaddr, unsigned long mask, int nr, unsigned int flags",
    ),
    (
        "futex_wait",
        {"x86_64": 455, "aarch64": 455},
        "void __user *uaddr, unsigned long val, unsigned long mask, unsigned int flags,"
        " struct __kernel_timespec __user *timeout, clockid_t clockid",
    ),
    (
        "futex_requeue",
        {"x86_64": 456, "aarch64": 456},
        "struct futex_waitv __user *waiters, unsigned int flags, int nr_wake, int nr_requeue",
    ),
    # 6.8
    (
        "statmount",
        {"x86_64": 457, "aarch64": 457},
        "const struct mnt_id_req __user *req, struct statmount __user *buf, size_t bufsize,"
        " unsigned int flags",
    ),
    (
        "listmount",
        {"x86_64": 458, "aarch64": 458},
        "const struct mnt_id_req __user *req, u64 __user *mnt_ids, size_t nr_mnt_ids,"
        " unsigned int flags",
    ),
    (
        "lsm_get_self_attr",
        {"x86_64": 459, "aarch64": 459},
        "unsigned int attr, struct lsm_ctx __user *ctx, u32 __user *size, u32 flags",
    ),
    (
        "lsm_set_self_attr",
        {"x86_64": 460, "aarch64": 460},
        "unsigned int attr, struct lsm_ctx __user *ctx, u32 size, u32 flags",
    ),
    (
        "lsm_list_modules",
        {"x86_64": 461, "aarch64": 461},
        "u64 __user *ids, u32 __user *size, u32 flags",
    ),
    # 6.10
    (
        "mseal",
        {"x86_64": 462, "aarch64": 462},
        "unsigned long start, size_t len, unsigned long flags",
    ),
    # 6.13
    (
        "setxattrat",
        {"x86_64": 463, "aarch64": 463},
        "int dfd, const char __user *path, unsigned int at_flags, const char __user *name,"
        " const struct xattr_args __user *args, size_t size",
    ),
    (
        "getxattrat",
        {"x86_64": 464, "aarch64": 464},
        "int dfd, const char __user *path, unsigned int at_flags, const char __user *name,"
        " struct xattr_args __user *args, size_t size",
    ),
    (
        "listxattrat",
        {"x86_64": 465, "aarch64": 465},
        "int dfd, const char __user *path, unsigned int at_flags, char __user *list,"
        " size_t size",
    ),
    (
        "removexattrat",
        {"x86_64": 466, "aarch64": 466},
        "int dfd, const char __user *path, unsigned int at_flags, const char __user *name",
    ),
    # 6.15
    (
        "open_tree_attr",
        {"x86_64": 467, "aarch64": 467},
        "int dfd, const char __user *path, unsigned flags, struct mount_attr __user *uattr,"
        " size_t usize",
    ),
    # 6.17
    (
        "file_getattr",
        {"x86_64": 468, "aarch64": 468},
        "int dfd, const char __user *filename, struct file_attr __user *ufattr,"
        " size_t usize, unsigned int at_flags",
    ),
    (
        "file_setattr",
        {"x86_64": 469, "aarch64": 469},
        "int dfd, const char __user *filename, struct file_attr __user *ufattr,"
        " size_t usize, unsigned int at_flags",
    ),
]

# How to read the preprocessor conditionals around declarations in syscalls.h, per
# architecture. A declaration under a condition missing here is an error.
SYSCALLS_H_CONDITIONS = {
    "ifndef _LINUX_SYSCALLS_H": True,
    # Both architectures call syscalls through wrappers, but the prototypes are still the
    # kernel's declarations of sys_*().
    "ifndef CONFIG_ARCH_HAS_SYSCALL_WRAPPER": True,
    "if BITS_PER_LONG == 32": False,
    "if defined(__ARCH_WANT_STAT64) || defined(__ARCH_WANT_COMPAT_STAT64)": False,
    "ifndef CONFIG_ODD_RT_SIGACTION": True,
    "ifdef CONFIG_CLONE_BACKWARDS": {"x86_64": False, "aarch64": True},
    "ifdef CONFIG_CLONE_BACKWARDS3": False,
    "if defined(CONFIG_ARCH_SPLIT_ARG64)": False,
    "ifdef __ARCH_WANT_SYS_UTIME": {"x86_64": True, "aarch64": False},
    "ifdef CONFIG_OLD_SIGSUSPEND": False,
    "ifdef CONFIG_OLD_SIGSUSPEND3": False,
    "ifdef CONFIG_OLD_SIGACTION": False,
    "ifdef CONFIG_HAVE_UID16": False,
    "ifdef __ARCH_WANT_SYS_OLD_GETRLIMIT": False,
}

# C types of syscall arguments, as the kernel's SYSCALL_DEFINE casts the register.
# Any pointer (a `*` or `__user`) is a Ptr; any other type missing here is an error.
TYPE_MAP = {
    # signed 32-bit
    "int": "I32",
    "pid_t": "I32",
    "clockid_t": "I32",
    "timer_t": "I32",
    "key_serial_t": "I32",
    "key_t": "I32",
    "mqd_t": "I32",
    "rwf_t": "I32",
    "__s32": "I32",
    "s32": "I32",
    # unsigned 32-bit
    "unsigned int": "U32",
    "unsigned": "U32",
    "u32": "U32",
    "__u32": "U32",
    "uint32_t": "U32",
    "uid_t": "U32",
    "gid_t": "U32",
    "qid_t": "U32",
    # An enum whose constants are all non-negative has type unsigned int in GCC.
    "enum landlock_rule_type": "U32",
    # unsigned 16-bit
    "umode_t": "U16",
    # signed 64-bit
    "long": "I64",
    "off_t": "I64",
    "loff_t": "I64",
    # unsigned 64-bit
    "unsigned long": "U64",
    "size_t": "U64",
    "u64": "U64",
    "__u64": "U64",
    "aio_context_t": "U64",
    # typedefs of pointers
    "cap_user_header_t": "Ptr",
    "cap_user_data_t": "Ptr",
    "__sighandler_t": "Ptr",
}

C_KEYWORDS = {"int", "long", "short", "char", "unsigned", "signed", "void", "struct", "union",
              "enum", "const", "volatile"}

# Argument names: the kernel's, except where the section-2 man page uses another name that a
# policy author is likely to type. First these renames, applied to every syscall...
GLOBAL_ARG_RENAMES = {"dfd": "dirfd", "filename": "pathname"}

# ...then complete argument lists for particular syscalls (the man page's names; also names
# for the arguments syscalls.h leaves unnamed). The count must match the prototype.
SYSCALL_ARG_NAMES = {
    "accept": "sockfd addr addrlen",
    "accept4": "sockfd addr addrlen flags",
    "add_key": "type description payload plen keyring",
    "bind": "sockfd addr addrlen",
    "brk": "addr",
    "capget": "hdrp datap",
    "capset": "hdrp datap",
    "chdir": "path",
    "chown": "pathname owner group",
    "chroot": "path",
    "clock_adjtime": "clockid buf",
    "clock_getres": "clockid res",
    "clock_gettime": "clockid tp",
    "clock_nanosleep": "clockid flags request remain",
    "clock_settime": "clockid tp",
    "clone3": "cl_args size",
    "close_range": "first last flags",
    "connect": "sockfd addr addrlen",
    "delete_module": "name flags",
    "dup": "oldfd",
    "eventfd": "initval",
    "eventfd2": "initval flags",
    "exit": "status",
    "exit_group": "status",
    "fanotify_mark": "fanotify_fd flags mask dirfd pathname",
    "fchown": "fd owner group",
    "fchownat": "dirfd pathname owner group flags",
    "finit_module": "fd param_values flags",
    "flock": "fd operation",
    "fsconfig": "fd cmd key value aux",
    "fsmount": "fd flags attr_flags",
    "fsopen": "fsname flags",
    "fspick": "dirfd pathname flags",
    "futex": "uaddr futex_op val timeout uaddr2 val3",
    "futimesat": "dirfd pathname times",
    "get_mempolicy": "mode nodemask maxnode addr flags",
    "getdents": "fd dirp count",
    "getdents64": "fd dirp count",
    "getitimer": "which curr_value",
    "getpeername": "sockfd addr addrlen",
    "getrandom": "buf buflen flags",
    "getsockname": "sockfd addr addrlen",
    "getsockopt": "sockfd level optname optval optlen",
    "init_module": "module_image len param_values",
    "inotify_add_watch": "fd pathname mask",
    "io_destroy": "ctx_id",
    "io_setup": "nr_events ctx_idp",
    "io_submit": "ctx_id nr iocbpp",
    "ioctl": "fd request arg",
    "keyctl": "operation arg2 arg3 arg4 arg5",
    "kill": "pid sig",
    "lchown": "pathname owner group",
    "link": "oldpath newpath",
    "linkat": "olddirfd oldpath newdirfd newpath flags",
    "listen": "sockfd backlog",
    "madvise": "addr length advice",
    "mbind": "addr len mode nodemask maxnode flags",
    "memfd_create": "name flags",
    "mincore": "addr length vec",
    "mlock": "addr len",
    "mlock2": "addr len flags",
    "mount": "source target filesystemtype mountflags data",
    "mount_setattr": "dirfd pathname flags attr size",
    "move_mount": "from_dirfd from_pathname to_dirfd to_pathname flags",
    "mprotect": "addr len prot",
    "mremap": "old_address old_size new_size flags new_address",
    "mseal": "addr len flags",
    "msync": "addr length flags",
    "munlock": "addr len",
    "munmap": "addr length",
    "name_to_handle_at": "dirfd pathname handle mount_id flags",
    "nanosleep": "req rem",
    "newfstatat": "dirfd pathname statbuf flags",
    "open_by_handle_at": "mount_fd handle flags",
    "open_tree": "dirfd pathname flags",
    "perf_event_open": "attr pid cpu group_fd flags",
    "personality": "persona",
    "pidfd_getfd": "pidfd targetfd flags",
    "pipe": "pipefd",
    "pipe2": "pipefd flags",
    "pkey_alloc": "flags access_rights",
    "pkey_mprotect": "addr len prot pkey",
    "poll": "fds nfds timeout",
    "ppoll": "fds nfds tmo_p sigmask sigsetsize",
    "pread64": "fd buf count offset",
    "prlimit64": "pid resource new_limit old_limit",
    "process_madvise": "pidfd iovec vlen advice flags",
    "process_vm_readv": "pid local_iov liovcnt remote_iov riovcnt flags",
    "process_vm_writev": "pid local_iov liovcnt remote_iov riovcnt flags",
    "pselect6": "nfds readfds writefds exceptfds timeout sigmask",
    "pwrite64": "fd buf count offset",
    "readlink": "pathname buf bufsiz",
    "readlinkat": "dirfd pathname buf bufsiz",
    "readv": "fd iov iovcnt",
    "recvfrom": "sockfd buf len flags src_addr addrlen",
    "recvmmsg": "sockfd msgvec vlen flags timeout",
    "recvmsg": "sockfd msg flags",
    "rename": "oldpath newpath",
    "renameat": "olddirfd oldpath newdirfd newpath",
    "renameat2": "olddirfd oldpath newdirfd newpath flags",
    "request_key": "type description callout_info dest_keyring",
    "rt_sigaction": "signum act oldact sigsetsize",
    "rt_sigpending": "set sigsetsize",
    "rt_sigprocmask": "how set oldset sigsetsize",
    "rt_sigqueueinfo": "tgid sig info",
    "rt_sigsuspend": "mask sigsetsize",
    "rt_sigtimedwait": "set info timeout sigsetsize",
    "rt_tgsigqueueinfo": "tgid tid sig info",
    "sched_getaffinity": "pid cpusetsize mask",
    "sched_setaffinity": "pid cpusetsize mask",
    "seccomp": "operation flags args",
    "select": "nfds readfds writefds exceptfds timeout",
    "sendmmsg": "sockfd msgvec vlen flags",
    "sendmsg": "sockfd msg flags",
    "sendto": "sockfd buf len flags dest_addr addrlen",
    "set_mempolicy": "mode nodemask maxnode",
    "setitimer": "which new_value old_value",
    "setsockopt": "sockfd level optname optval optlen",
    "shmget": "key size shmflg",
    "shutdown": "sockfd how",
    "sigaltstack": "ss old_ss",
    "signalfd": "fd mask sizemask",
    "signalfd4": "fd mask sizemask flags",
    "socket": "domain type protocol",
    "socketpair": "domain type protocol sv",
    "statx": "dirfd pathname flags mask statxbuf",
    "swapoff": "path",
    "swapon": "path swapflags",
    "symlink": "target linkpath",
    "symlinkat": "target newdirfd linkpath",
    "tgkill": "tgid tid sig",
    "timer_create": "clockid sevp timerid",
    "timer_delete": "timerid",
    "timer_getoverrun": "timerid",
    "timer_gettime": "timerid curr_value",
    "timer_settime": "timerid flags new_value old_value",
    "timerfd_create": "clockid flags",
    "timerfd_gettime": "fd curr_value",
    "timerfd_settime": "fd flags new_value old_value",
    "tkill": "tid sig",
    "umount2": "target flags",
    "uname": "buf",
    "unlinkat": "dirfd pathname flags",
    "unshare": "flags",
    "utimensat": "dirfd pathname times flags",
    "utimes": "pathname times",
    "wait4": "pid wstatus options rusage",
    "waitid": "idtype id infop options rusage",
    "writev": "fd iov iovcnt",
}

# ------------------------------------------------------------------------------------------
# Constants
# ------------------------------------------------------------------------------------------

# Groups of constants: a title (a comment in the output), the UAPI headers to include, and the
# names. `NAME=EXPR` evaluates EXPR for NAME (a C library alias the kernel headers lack).
# A header in parentheses is included only where it exists.
CONSTANT_GROUPS = [
    (
        "open(2) flags",
        ["linux/fcntl.h"],
        """O_RDONLY O_WRONLY O_RDWR O_ACCMODE O_CREAT O_EXCL O_NOCTTY O_TRUNC O_APPEND
        O_NONBLOCK O_NDELAY O_DSYNC O_SYNC O_DIRECT O_LARGEFILE O_DIRECTORY O_NOFOLLOW
        O_NOATIME O_CLOEXEC O_PATH O_TMPFILE FASYNC O_ASYNC=FASYNC""",
    ),
    (
        "*at(2) flags and AT_FDCWD",
        ["linux/fcntl.h"],
        """AT_FDCWD AT_SYMLINK_NOFOLLOW AT_REMOVEDIR AT_SYMLINK_FOLLOW AT_NO_AUTOMOUNT
        AT_EMPTY_PATH AT_EACCESS AT_RECURSIVE AT_STATX_SYNC_TYPE AT_STATX_SYNC_AS_STAT
        AT_STATX_FORCE_SYNC AT_STATX_DONT_SYNC""",
    ),
    (
        "openat2(2) resolve flags",
        ["linux/openat2.h"],
        """RESOLVE_NO_XDEV RESOLVE_NO_MAGICLINKS RESOLVE_NO_SYMLINKS RESOLVE_BENEATH
        RESOLVE_IN_ROOT RESOLVE_CACHED""",
    ),
    (
        "renameat2(2) flags",
        ["linux/fs.h"],
        "RENAME_NOREPLACE RENAME_EXCHANGE RENAME_WHITEOUT",
    ),
    (
        "access(2) modes (the kernel checks them against the S_IRWXO bits)",
        ["linux/stat.h"],
        "F_OK=0 X_OK=S_IXOTH W_OK=S_IWOTH R_OK=S_IROTH",
    ),
    (
        "File type and mode bits",
        ["linux/stat.h"],
        """S_IFMT S_IFSOCK S_IFLNK S_IFREG S_IFBLK S_IFDIR S_IFCHR S_IFIFO S_ISUID S_ISGID
        S_ISVTX S_IRWXU S_IRUSR S_IWUSR S_IXUSR S_IRWXG S_IRGRP S_IWGRP S_IXGRP S_IRWXO
        S_IROTH S_IWOTH S_IXOTH""",
    ),
    (
        "fcntl(2) commands and arguments; flock(2) operations",
        ["linux/fcntl.h"],
        """F_DUPFD F_GETFD F_SETFD F_GETFL F_SETFL F_GETLK F_SETLK F_SETLKW F_SETOWN
        F_GETOWN F_SETSIG F_GETSIG F_SETOWN_EX F_GETOWN_EX F_OFD_GETLK F_OFD_SETLK
        F_OFD_SETLKW F_LINUX_SPECIFIC_BASE F_SETLEASE F_GETLEASE F_NOTIFY F_CANCELLK
        F_DUPFD_CLOEXEC F_SETPIPE_SZ F_GETPIPE_SZ F_ADD_SEALS F_GET_SEALS F_GET_RW_HINT
        F_SET_RW_HINT F_GET_FILE_RW_HINT F_SET_FILE_RW_HINT FD_CLOEXEC F_RDLCK F_WRLCK
        F_UNLCK F_SEAL_SEAL F_SEAL_SHRINK F_SEAL_GROW F_SEAL_WRITE F_SEAL_FUTURE_WRITE
        LOCK_SH LOCK_EX LOCK_NB LOCK_UN""",
    ),
    (
        "lseek(2) whence",
        ["linux/fs.h"],
        "SEEK_SET SEEK_CUR SEEK_END SEEK_DATA SEEK_HOLE",
    ),
    (
        "posix_fadvise(2) advice",
        ["linux/fadvise.h"],
        """POSIX_FADV_NORMAL POSIX_FADV_RANDOM POSIX_FADV_SEQUENTIAL POSIX_FADV_WILLNEED
        POSIX_FADV_DONTNEED POSIX_FADV_NOREUSE""",
    ),
    (
        "mmap(2) and mprotect(2) protection",
        ["asm/mman.h", "linux/mman.h"],
        """PROT_NONE PROT_READ PROT_WRITE PROT_EXEC PROT_SEM PROT_GROWSDOWN PROT_GROWSUP
        PROT_BTI PROT_MTE""",
    ),
    (
        "mmap(2) flags",
        ["asm/mman.h", "linux/mman.h"],
        """MAP_SHARED MAP_PRIVATE MAP_SHARED_VALIDATE MAP_TYPE MAP_FIXED MAP_ANONYMOUS
        MAP_ANON=MAP_ANONYMOUS MAP_32BIT MAP_GROWSDOWN MAP_DENYWRITE MAP_EXECUTABLE
        MAP_LOCKED MAP_NORESERVE MAP_POPULATE MAP_NONBLOCK MAP_STACK MAP_HUGETLB MAP_SYNC
        MAP_FIXED_NOREPLACE MAP_UNINITIALIZED MAP_HUGE_SHIFT MAP_HUGE_MASK MAP_HUGE_64KB
        MAP_HUGE_2MB MAP_HUGE_1GB""",
    ),
    (
        "mremap(2), msync(2), mlock2(2) and mlockall(2) flags",
        ["asm/mman.h", "linux/mman.h"],
        """MREMAP_MAYMOVE MREMAP_FIXED MREMAP_DONTUNMAP MS_ASYNC MS_INVALIDATE MS_SYNC
        MLOCK_ONFAULT MCL_CURRENT MCL_FUTURE MCL_ONFAULT""",
    ),
    (
        "madvise(2) advice",
        ["asm/mman.h", "linux/mman.h"],
        """MADV_NORMAL MADV_RANDOM MADV_SEQUENTIAL MADV_WILLNEED MADV_DONTNEED MADV_FREE
        MADV_REMOVE MADV_DONTFORK MADV_DOFORK MADV_HWPOISON MADV_SOFT_OFFLINE MADV_MERGEABLE
        MADV_UNMERGEABLE MADV_HUGEPAGE MADV_NOHUGEPAGE MADV_DONTDUMP MADV_DODUMP
        MADV_WIPEONFORK MADV_KEEPONFORK MADV_COLD MADV_PAGEOUT MADV_POPULATE_READ
        MADV_POPULATE_WRITE MADV_DONTNEED_LOCKED MADV_COLLAPSE""",
    ),
    (
        "memfd_create(2) flags",
        ["linux/memfd.h"],
        "MFD_CLOEXEC MFD_ALLOW_SEALING MFD_HUGETLB",
    ),
    (
        "Address families",
        ["linux/socket.h"],
        """AF_UNSPEC AF_UNIX AF_LOCAL AF_INET AF_AX25 AF_IPX AF_APPLETALK AF_NETROM AF_BRIDGE
        AF_ATMPVC AF_X25 AF_INET6 AF_ROSE AF_DECnet AF_NETBEUI AF_SECURITY AF_KEY AF_NETLINK
        AF_ROUTE AF_PACKET AF_ASH AF_ECONET AF_ATMSVC AF_RDS AF_SNA AF_IRDA AF_PPPOX
        AF_WANPIPE AF_LLC AF_IB AF_MPLS AF_CAN AF_TIPC AF_BLUETOOTH AF_IUCV AF_RXRPC AF_ISDN
        AF_PHONET AF_IEEE802154 AF_CAIF AF_ALG AF_NFC AF_VSOCK AF_KCM AF_QIPCRTR AF_SMC
        AF_XDP AF_MCTP AF_MAX""",
    ),
    (
        "Protocol families",
        ["linux/socket.h"],
        """PF_UNSPEC PF_UNIX PF_LOCAL PF_INET PF_AX25 PF_IPX PF_APPLETALK PF_NETROM PF_BRIDGE
        PF_ATMPVC PF_X25 PF_INET6 PF_ROSE PF_DECnet PF_NETBEUI PF_SECURITY PF_KEY PF_NETLINK
        PF_ROUTE PF_PACKET PF_ASH PF_ECONET PF_ATMSVC PF_RDS PF_SNA PF_IRDA PF_PPPOX
        PF_WANPIPE PF_LLC PF_IB PF_MPLS PF_CAN PF_TIPC PF_BLUETOOTH PF_IUCV PF_RXRPC PF_ISDN
        PF_PHONET PF_IEEE802154 PF_CAIF PF_ALG PF_NFC PF_VSOCK PF_KCM PF_QIPCRTR PF_SMC
        PF_XDP PF_MCTP PF_MAX""",
    ),
    (
        "Socket types and socket(2) flags",
        ["linux/fcntl.h"],
        """SOCK_STREAM SOCK_DGRAM SOCK_RAW SOCK_RDM SOCK_SEQPACKET SOCK_DCCP SOCK_PACKET
        SOCK_NONBLOCK SOCK_CLOEXEC""",
    ),
    (
        "Socket option levels",
        ["asm/socket.h"],
        """SOL_SOCKET SOL_IP SOL_TCP SOL_UDP SOL_IPV6 SOL_ICMPV6 SOL_SCTP SOL_UDPLITE SOL_RAW
        SOL_PACKET SOL_NETLINK SOL_ALG SOL_TLS SOL_XDP SOL_MPTCP""",
    ),
    (
        "SOL_SOCKET options",
        ["asm/socket.h"],
        """SO_DEBUG SO_REUSEADDR SO_TYPE SO_ERROR SO_DONTROUTE SO_BROADCAST SO_SNDBUF
        SO_RCVBUF SO_SNDBUFFORCE SO_RCVBUFFORCE SO_KEEPALIVE SO_OOBINLINE SO_NO_CHECK
        SO_PRIORITY SO_LINGER SO_BSDCOMPAT SO_REUSEPORT SO_PASSCRED SO_PEERCRED SO_RCVLOWAT
        SO_SNDLOWAT SO_RCVTIMEO SO_SNDTIMEO SO_SECURITY_AUTHENTICATION
        SO_SECURITY_ENCRYPTION_TRANSPORT SO_SECURITY_ENCRYPTION_NETWORK SO_BINDTODEVICE
        SO_ATTACH_FILTER SO_DETACH_FILTER SO_GET_FILTER SO_PEERNAME SO_ACCEPTCONN SO_PEERSEC
        SO_PASSSEC SO_MARK SO_PROTOCOL SO_DOMAIN SO_RXQ_OVFL SO_WIFI_STATUS SO_PEEK_OFF
        SO_NOFCS SO_LOCK_FILTER SO_SELECT_ERR_QUEUE SO_BUSY_POLL SO_MAX_PACING_RATE
        SO_BPF_EXTENSIONS SO_INCOMING_CPU SO_ATTACH_BPF SO_DETACH_BPF
        SO_ATTACH_REUSEPORT_CBPF SO_ATTACH_REUSEPORT_EBPF SO_CNX_ADVICE SO_MEMINFO
        SO_INCOMING_NAPI_ID SO_COOKIE SO_PEERGROUPS SO_ZEROCOPY SO_TXTIME SO_BINDTOIFINDEX
        SO_DETACH_REUSEPORT_BPF SO_PREFER_BUSY_POLL SO_BUSY_POLL_BUDGET SO_NETNS_COOKIE
        SO_BUF_LOCK SO_RESERVE_MEM SO_TXREHASH SO_RCVMARK""",
    ),
    (
        "send(2) and recv(2) flags",
        ["linux/socket.h"],
        """MSG_OOB MSG_PEEK MSG_DONTROUTE MSG_TRYHARD MSG_CTRUNC MSG_PROBE MSG_TRUNC
        MSG_DONTWAIT MSG_EOR MSG_WAITALL MSG_FIN MSG_SYN MSG_CONFIRM MSG_RST MSG_ERRQUEUE
        MSG_NOSIGNAL MSG_MORE MSG_WAITFORONE MSG_BATCH MSG_EOF MSG_ZEROCOPY MSG_FASTOPEN
        MSG_CMSG_CLOEXEC""",
    ),
    (
        "shutdown(2) how",
        ["linux/socket.h"],
        "SHUT_RD SHUT_WR SHUT_RDWR",
    ),
    (
        "IP protocols",
        ["linux/in.h", "linux/in6.h"],
        """IPPROTO_IP IPPROTO_ICMP IPPROTO_IGMP IPPROTO_IPIP IPPROTO_TCP IPPROTO_EGP
        IPPROTO_PUP IPPROTO_UDP IPPROTO_IDP IPPROTO_TP IPPROTO_DCCP IPPROTO_IPV6
        IPPROTO_RSVP IPPROTO_GRE IPPROTO_ESP IPPROTO_AH IPPROTO_MTP IPPROTO_BEETPH
        IPPROTO_ENCAP IPPROTO_PIM IPPROTO_COMP IPPROTO_L2TP IPPROTO_SCTP IPPROTO_UDPLITE
        IPPROTO_MPLS IPPROTO_ETHERNET IPPROTO_RAW IPPROTO_MPTCP IPPROTO_HOPOPTS
        IPPROTO_ROUTING IPPROTO_FRAGMENT IPPROTO_ICMPV6 IPPROTO_NONE IPPROTO_DSTOPTS
        IPPROTO_MH""",
    ),
    (
        "clone(2), clone3(2), unshare(2) and setns(2) flags",
        ["linux/sched.h"],
        """CSIGNAL CLONE_VM CLONE_FS CLONE_FILES CLONE_SIGHAND CLONE_PIDFD CLONE_PTRACE
        CLONE_VFORK CLONE_PARENT CLONE_THREAD CLONE_NEWNS CLONE_SYSVSEM CLONE_SETTLS
        CLONE_PARENT_SETTID CLONE_CHILD_CLEARTID CLONE_DETACHED CLONE_UNTRACED
        CLONE_CHILD_SETTID CLONE_NEWCGROUP CLONE_NEWUTS CLONE_NEWIPC CLONE_NEWUSER
        CLONE_NEWPID CLONE_NEWNET CLONE_IO CLONE_NEWTIME CLONE_CLEAR_SIGHAND
        CLONE_INTO_CGROUP""",
    ),
    (
        "Scheduling policies and sched_setattr(2) flags",
        ["linux/sched.h"],
        """SCHED_NORMAL SCHED_OTHER=SCHED_NORMAL SCHED_FIFO SCHED_RR SCHED_BATCH SCHED_IDLE
        SCHED_DEADLINE SCHED_RESET_ON_FORK SCHED_FLAG_RESET_ON_FORK SCHED_FLAG_RECLAIM
        SCHED_FLAG_DL_OVERRUN SCHED_FLAG_KEEP_POLICY SCHED_FLAG_KEEP_PARAMS
        SCHED_FLAG_UTIL_CLAMP_MIN SCHED_FLAG_UTIL_CLAMP_MAX""",
    ),
    (
        "wait4(2) and waitid(2) options and id types",
        ["linux/wait.h"],
        """WNOHANG WUNTRACED WSTOPPED WEXITED WCONTINUED WNOWAIT __WNOTHREAD __WALL __WCLONE
        P_ALL P_PID P_PGID P_PIDFD""",
    ),
    (
        "Signals (kernel numbering: SIGRTMIN is 32; glibc keeps 32 and 33 and reports 34)",
        ["asm/signal.h"],
        """SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGIOT SIGBUS SIGFPE SIGKILL SIGUSR1
        SIGSEGV SIGUSR2 SIGPIPE SIGALRM SIGTERM SIGSTKFLT SIGCHLD SIGCONT SIGSTOP SIGTSTP
        SIGTTIN SIGTTOU SIGURG SIGXCPU SIGXFSZ SIGVTALRM SIGPROF SIGWINCH SIGIO SIGPOLL
        SIGPWR SIGSYS SIGRTMIN SIGRTMAX""",
    ),
    (
        "rt_sigprocmask(2) how",
        ["asm/signal.h"],
        "SIG_BLOCK SIG_UNBLOCK SIG_SETMASK",
    ),
    (
        "futex(2) operations and flags",
        ["linux/futex.h"],
        """FUTEX_WAIT FUTEX_WAKE FUTEX_FD FUTEX_REQUEUE FUTEX_CMP_REQUEUE FUTEX_WAKE_OP
        FUTEX_LOCK_PI FUTEX_UNLOCK_PI FUTEX_TRYLOCK_PI FUTEX_WAIT_BITSET FUTEX_WAKE_BITSET
        FUTEX_WAIT_REQUEUE_PI FUTEX_CMP_REQUEUE_PI FUTEX_LOCK_PI2 FUTEX_PRIVATE_FLAG
        FUTEX_CLOCK_REALTIME FUTEX_CMD_MASK FUTEX_WAIT_PRIVATE FUTEX_WAKE_PRIVATE
        FUTEX_REQUEUE_PRIVATE FUTEX_CMP_REQUEUE_PRIVATE FUTEX_WAKE_OP_PRIVATE
        FUTEX_LOCK_PI_PRIVATE FUTEX_LOCK_PI2_PRIVATE FUTEX_UNLOCK_PI_PRIVATE
        FUTEX_TRYLOCK_PI_PRIVATE FUTEX_WAIT_BITSET_PRIVATE FUTEX_WAKE_BITSET_PRIVATE
        FUTEX_WAIT_REQUEUE_PI_PRIVATE FUTEX_CMP_REQUEUE_PI_PRIVATE FUTEX_BITSET_MATCH_ANY
        FUTEX_32""",
    ),
    (
        "ioctl(2) requests: terminals and generic file ioctls",
        ["asm/ioctls.h", "asm/termbits.h", "linux/fs.h"],
        """TCGETS TCSETS TCSETSW TCSETSF TCGETA TCSETA TCSETAW TCSETAF TCSBRK TCXONC TCFLSH
        TIOCEXCL TIOCNXCL TIOCSCTTY TIOCGPGRP TIOCSPGRP TIOCOUTQ TIOCSTI TIOCGWINSZ
        TIOCSWINSZ TIOCMGET TIOCMBIS TIOCMBIC TIOCMSET TIOCGSOFTCAR TIOCSSOFTCAR FIONREAD
        TIOCINQ TIOCLINUX TIOCCONS TIOCGSERIAL TIOCSSERIAL TIOCPKT FIONBIO TIOCNOTTY
        TIOCSETD TIOCGETD TCSBRKP TIOCSBRK TIOCCBRK TIOCGSID TCGETS2 TCSETS2 TCSETSW2
        TCSETSF2 TIOCGPTN TIOCSPTLCK TIOCGDEV TIOCSIG TIOCVHANGUP TIOCGPKT TIOCGPTLCK
        TIOCGEXCL TIOCGPTPEER FIONCLEX FIOCLEX FIOASYNC FIOQSIZE TCIFLUSH TCOFLUSH
        TCIOFLUSH FICLONE FICLONERANGE FIDEDUPERANGE FS_IOC_GETFLAGS FS_IOC_SETFLAGS""",
    ),
    (
        "prctl(2) options",
        ["linux/prctl.h"],
        """PR_SET_PDEATHSIG PR_GET_PDEATHSIG PR_GET_DUMPABLE PR_SET_DUMPABLE PR_GET_UNALIGN
        PR_SET_UNALIGN PR_GET_KEEPCAPS PR_SET_KEEPCAPS PR_GET_FPEMU PR_SET_FPEMU
        PR_GET_FPEXC PR_SET_FPEXC PR_GET_TIMING PR_SET_TIMING PR_SET_NAME PR_GET_NAME
        PR_GET_ENDIAN PR_SET_ENDIAN PR_GET_SECCOMP PR_SET_SECCOMP PR_CAPBSET_READ
        PR_CAPBSET_DROP PR_GET_TSC PR_SET_TSC PR_GET_SECUREBITS PR_SET_SECUREBITS
        PR_SET_TIMERSLACK PR_GET_TIMERSLACK PR_TASK_PERF_EVENTS_DISABLE
        PR_TASK_PERF_EVENTS_ENABLE PR_MCE_KILL PR_MCE_KILL_GET PR_SET_MM PR_SET_MM_START_CODE
        PR_SET_MM_END_CODE PR_SET_MM_START_DATA PR_SET_MM_END_DATA PR_SET_MM_START_STACK
        PR_SET_MM_START_BRK PR_SET_MM_BRK PR_SET_MM_ARG_START PR_SET_MM_ARG_END
        PR_SET_MM_ENV_START PR_SET_MM_ENV_END PR_SET_MM_AUXV PR_SET_MM_EXE_FILE
        PR_SET_MM_MAP PR_SET_MM_MAP_SIZE PR_SET_PTRACER PR_SET_PTRACER_ANY
        PR_SET_CHILD_SUBREAPER PR_GET_CHILD_SUBREAPER PR_SET_NO_NEW_PRIVS
        PR_GET_NO_NEW_PRIVS PR_GET_TID_ADDRESS PR_SET_THP_DISABLE PR_GET_THP_DISABLE
        PR_MPX_ENABLE_MANAGEMENT PR_MPX_DISABLE_MANAGEMENT PR_SET_FP_MODE PR_GET_FP_MODE
        PR_CAP_AMBIENT PR_CAP_AMBIENT_IS_SET PR_CAP_AMBIENT_RAISE PR_CAP_AMBIENT_LOWER
        PR_CAP_AMBIENT_CLEAR_ALL PR_SVE_SET_VL PR_SVE_SET_VL_ONEXEC PR_SVE_GET_VL
        PR_SVE_VL_LEN_MASK PR_SVE_VL_INHERIT PR_GET_SPECULATION_CTRL
        PR_SET_SPECULATION_CTRL PR_PAC_RESET_KEYS PR_SET_TAGGED_ADDR_CTRL
        PR_GET_TAGGED_ADDR_CTRL PR_TAGGED_ADDR_ENABLE PR_SET_IO_FLUSHER PR_GET_IO_FLUSHER
        PR_SET_SYSCALL_USER_DISPATCH PR_PAC_SET_ENABLED_KEYS PR_PAC_GET_ENABLED_KEYS
        PR_SCHED_CORE PR_SME_SET_VL PR_SME_GET_VL PR_SET_VMA PR_SET_VMA_ANON_NAME""",
    ),
    (
        "Capabilities (prctl(2) PR_CAPBSET_*, PR_CAP_AMBIENT_*)",
        ["linux/capability.h"],
        """CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL
        CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE
        CAP_NET_BROADCAST CAP_NET_ADMIN CAP_NET_RAW CAP_IPC_LOCK CAP_IPC_OWNER
        CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT CAP_SYS_PTRACE CAP_SYS_PACCT
        CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME
        CAP_SYS_TTY_CONFIG CAP_MKNOD CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL
        CAP_SETFCAP CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG CAP_WAKE_ALARM
        CAP_BLOCK_SUSPEND CAP_AUDIT_READ CAP_PERFMON CAP_BPF CAP_CHECKPOINT_RESTORE
        CAP_LAST_CAP""",
    ),
    (
        "seccomp(2)",
        ["linux/seccomp.h"],
        """SECCOMP_MODE_DISABLED SECCOMP_MODE_STRICT SECCOMP_MODE_FILTER
        SECCOMP_SET_MODE_STRICT SECCOMP_SET_MODE_FILTER SECCOMP_GET_ACTION_AVAIL
        SECCOMP_GET_NOTIF_SIZES SECCOMP_FILTER_FLAG_TSYNC SECCOMP_FILTER_FLAG_LOG
        SECCOMP_FILTER_FLAG_SPEC_ALLOW SECCOMP_FILTER_FLAG_NEW_LISTENER
        SECCOMP_FILTER_FLAG_TSYNC_ESRCH SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
        SECCOMP_RET_KILL_PROCESS SECCOMP_RET_KILL_THREAD SECCOMP_RET_KILL SECCOMP_RET_TRAP
        SECCOMP_RET_ERRNO SECCOMP_RET_USER_NOTIF SECCOMP_RET_TRACE SECCOMP_RET_LOG
        SECCOMP_RET_ALLOW SECCOMP_RET_ACTION_FULL SECCOMP_RET_ACTION SECCOMP_RET_DATA
        SECCOMP_USER_NOTIF_FLAG_CONTINUE SECCOMP_ADDFD_FLAG_SETFD SECCOMP_ADDFD_FLAG_SEND
        SECCOMP_IOCTL_NOTIF_RECV SECCOMP_IOCTL_NOTIF_SEND SECCOMP_IOCTL_NOTIF_ID_VALID
        SECCOMP_IOCTL_NOTIF_ADDFD""",
    ),
    (
        "arch_prctl(2) codes (x86_64)",
        ["(asm/prctl.h)"],
        """ARCH_SET_GS ARCH_SET_FS ARCH_GET_FS ARCH_GET_GS ARCH_GET_CPUID ARCH_SET_CPUID
        ARCH_GET_XCOMP_SUPP ARCH_GET_XCOMP_PERM ARCH_REQ_XCOMP_PERM
        ARCH_GET_XCOMP_GUEST_PERM ARCH_REQ_XCOMP_GUEST_PERM ARCH_MAP_VDSO_X32
        ARCH_MAP_VDSO_32 ARCH_MAP_VDSO_64""",
    ),
    (
        "ptrace(2) requests",
        ["linux/ptrace.h"],
        """PTRACE_TRACEME PTRACE_PEEKTEXT PTRACE_PEEKDATA PTRACE_PEEKUSR PTRACE_POKETEXT
        PTRACE_POKEDATA PTRACE_POKEUSR PTRACE_CONT PTRACE_KILL PTRACE_SINGLESTEP
        PTRACE_GETREGS PTRACE_SETREGS PTRACE_GETFPREGS PTRACE_SETFPREGS PTRACE_ATTACH
        PTRACE_DETACH PTRACE_SYSCALL PTRACE_ARCH_PRCTL PTRACE_SETOPTIONS
        PTRACE_GETEVENTMSG PTRACE_GETSIGINFO PTRACE_SETSIGINFO PTRACE_GETREGSET
        PTRACE_SETREGSET PTRACE_SEIZE PTRACE_INTERRUPT PTRACE_LISTEN PTRACE_PEEKSIGINFO
        PTRACE_GETSIGMASK PTRACE_SETSIGMASK PTRACE_SECCOMP_GET_FILTER
        PTRACE_SECCOMP_GET_METADATA PTRACE_GET_SYSCALL_INFO
        PTRACE_GET_RSEQ_CONFIGURATION""",
    ),
    (
        "Resource limits and getpriority(2)/getrusage(2) selectors",
        ["asm/resource.h", "linux/resource.h"],
        """RLIMIT_CPU RLIMIT_FSIZE RLIMIT_DATA RLIMIT_STACK RLIMIT_CORE RLIMIT_RSS
        RLIMIT_NPROC RLIMIT_NOFILE RLIMIT_MEMLOCK RLIMIT_AS RLIMIT_LOCKS RLIMIT_SIGPENDING
        RLIMIT_MSGQUEUE RLIMIT_NICE RLIMIT_RTPRIO RLIMIT_RTTIME RLIM_NLIMITS PRIO_PROCESS
        PRIO_PGRP PRIO_USER RUSAGE_SELF RUSAGE_CHILDREN RUSAGE_BOTH RUSAGE_THREAD""",
    ),
    (
        "Clocks and timers",
        ["linux/time.h"],
        """CLOCK_REALTIME CLOCK_MONOTONIC CLOCK_PROCESS_CPUTIME_ID CLOCK_THREAD_CPUTIME_ID
        CLOCK_MONOTONIC_RAW CLOCK_REALTIME_COARSE CLOCK_MONOTONIC_COARSE CLOCK_BOOTTIME
        CLOCK_REALTIME_ALARM CLOCK_BOOTTIME_ALARM CLOCK_TAI TIMER_ABSTIME ITIMER_REAL
        ITIMER_VIRTUAL ITIMER_PROF""",
    ),
    (
        "getrandom(2) flags",
        ["linux/random.h"],
        "GRND_NONBLOCK GRND_RANDOM GRND_INSECURE",
    ),
    (
        "eventfd(2), epoll(7), inotify(7), timerfd(2), signalfd(2) and pidfd_open(2) flags",
        ["linux/fcntl.h", "linux/eventpoll.h", "linux/inotify.h", "linux/timerfd.h",
         "linux/signalfd.h", "linux/pidfd.h"],
        """EFD_SEMAPHORE EFD_CLOEXEC EFD_NONBLOCK EPOLL_CLOEXEC EPOLL_CTL_ADD EPOLL_CTL_DEL
        EPOLL_CTL_MOD IN_CLOEXEC IN_NONBLOCK TFD_TIMER_ABSTIME TFD_TIMER_CANCEL_ON_SET
        TFD_CLOEXEC TFD_NONBLOCK SFD_CLOEXEC SFD_NONBLOCK PIDFD_NONBLOCK""",
    ),
    (
        "poll(2) and epoll(7) events",
        ["asm/poll.h", "linux/eventpoll.h"],
        """POLLIN POLLPRI POLLOUT POLLERR POLLHUP POLLNVAL POLLRDNORM POLLRDBAND POLLWRNORM
        POLLWRBAND POLLMSG POLLREMOVE POLLRDHUP EPOLLIN EPOLLPRI EPOLLOUT EPOLLERR EPOLLHUP
        EPOLLNVAL EPOLLRDNORM EPOLLRDBAND EPOLLWRNORM EPOLLWRBAND EPOLLMSG EPOLLRDHUP
        EPOLLEXCLUSIVE EPOLLWAKEUP EPOLLONESHOT EPOLLET""",
    ),
    (
        "close_range(2) flags",
        ["linux/close_range.h"],
        "CLOSE_RANGE_UNSHARE CLOSE_RANGE_CLOEXEC",
    ),
    (
        "mount(2) flags and umount2(2) flags",
        ["linux/mount.h"],
        """MS_RDONLY MS_NOSUID MS_NODEV MS_NOEXEC MS_SYNCHRONOUS MS_REMOUNT MS_MANDLOCK
        MS_DIRSYNC MS_NOSYMFOLLOW MS_NOATIME MS_NODIRATIME MS_BIND MS_MOVE MS_REC MS_SILENT
        MS_POSIXACL MS_UNBINDABLE MS_PRIVATE MS_SLAVE MS_SHARED MS_RELATIME MS_KERNMOUNT
        MS_I_VERSION MS_STRICTATIME MS_LAZYTIME MS_MGC_VAL MS_MGC_MSK MNT_FORCE MNT_DETACH
        MNT_EXPIRE UMOUNT_NOFOLLOW""",
    ),
    (
        "open_tree(2), move_mount(2), fsopen(2), fsmount(2), fspick(2), mount_setattr(2)",
        ["linux/mount.h"],
        """OPEN_TREE_CLONE OPEN_TREE_CLOEXEC MOVE_MOUNT_F_SYMLINKS MOVE_MOUNT_F_AUTOMOUNTS
        MOVE_MOUNT_F_EMPTY_PATH MOVE_MOUNT_T_SYMLINKS MOVE_MOUNT_T_AUTOMOUNTS
        MOVE_MOUNT_T_EMPTY_PATH MOVE_MOUNT_SET_GROUP FSOPEN_CLOEXEC FSPICK_CLOEXEC
        FSPICK_SYMLINK_NOFOLLOW FSPICK_NO_AUTOMOUNT FSPICK_EMPTY_PATH FSMOUNT_CLOEXEC
        MOUNT_ATTR_RDONLY MOUNT_ATTR_NOSUID MOUNT_ATTR_NODEV MOUNT_ATTR_NOEXEC
        MOUNT_ATTR__ATIME MOUNT_ATTR_RELATIME MOUNT_ATTR_NOATIME MOUNT_ATTR_STRICTATIME
        MOUNT_ATTR_NODIRATIME MOUNT_ATTR_IDMAP MOUNT_ATTR_NOSYMFOLLOW""",
    ),
    (
        "personality(2) domains and flags",
        ["linux/personality.h"],
        """PER_LINUX PER_LINUX_32BIT PER_LINUX32 PER_MASK UNAME26 ADDR_NO_RANDOMIZE
        FDPIC_FUNCPTRS MMAP_PAGE_ZERO ADDR_COMPAT_LAYOUT READ_IMPLIES_EXEC ADDR_LIMIT_32BIT
        SHORT_INODE WHOLE_SECONDS STICKY_TIMEOUTS ADDR_LIMIT_3GB""",
    ),
    (
        "System V IPC",
        ["linux/ipc.h"],
        "IPC_PRIVATE IPC_CREAT IPC_EXCL IPC_NOWAIT IPC_RMID IPC_SET IPC_STAT IPC_INFO",
    ),
    (
        "keyctl(2) operations and special keyring ids",
        ["linux/keyctl.h"],
        """KEY_SPEC_THREAD_KEYRING KEY_SPEC_PROCESS_KEYRING KEY_SPEC_SESSION_KEYRING
        KEY_SPEC_USER_KEYRING KEY_SPEC_USER_SESSION_KEYRING KEY_SPEC_GROUP_KEYRING
        KEY_SPEC_REQKEY_AUTH_KEY KEY_SPEC_REQUESTOR_KEYRING KEYCTL_GET_KEYRING_ID
        KEYCTL_JOIN_SESSION_KEYRING KEYCTL_UPDATE KEYCTL_REVOKE KEYCTL_CHOWN KEYCTL_SETPERM
        KEYCTL_DESCRIBE KEYCTL_CLEAR KEYCTL_LINK KEYCTL_UNLINK KEYCTL_SEARCH KEYCTL_READ
        KEYCTL_INSTANTIATE KEYCTL_NEGATE KEYCTL_SET_REQKEY_KEYRING KEYCTL_SET_TIMEOUT
        KEYCTL_ASSUME_AUTHORITY KEYCTL_GET_SECURITY KEYCTL_SESSION_TO_PARENT KEYCTL_REJECT
        KEYCTL_INSTANTIATE_IOV KEYCTL_INVALIDATE KEYCTL_GET_PERSISTENT KEYCTL_DH_COMPUTE
        KEYCTL_PKEY_QUERY KEYCTL_PKEY_ENCRYPT KEYCTL_PKEY_DECRYPT KEYCTL_PKEY_SIGN
        KEYCTL_PKEY_VERIFY KEYCTL_RESTRICT_KEYRING KEYCTL_MOVE KEYCTL_CAPABILITIES
        KEYCTL_WATCH_KEY""",
    ),
    (
        "bpf(2) commands",
        ["linux/bpf.h"],
        """BPF_MAP_CREATE BPF_MAP_LOOKUP_ELEM BPF_MAP_UPDATE_ELEM BPF_MAP_DELETE_ELEM
        BPF_MAP_GET_NEXT_KEY BPF_PROG_LOAD BPF_OBJ_PIN BPF_OBJ_GET BPF_PROG_ATTACH
        BPF_PROG_DETACH BPF_PROG_TEST_RUN BPF_PROG_GET_NEXT_ID BPF_MAP_GET_NEXT_ID
        BPF_PROG_GET_FD_BY_ID BPF_MAP_GET_FD_BY_ID BPF_OBJ_GET_INFO_BY_FD BPF_PROG_QUERY
        BPF_RAW_TRACEPOINT_OPEN BPF_BTF_LOAD BPF_BTF_GET_FD_BY_ID BPF_TASK_FD_QUERY
        BPF_MAP_LOOKUP_AND_DELETE_ELEM BPF_MAP_FREEZE BPF_BTF_GET_NEXT_ID
        BPF_MAP_LOOKUP_BATCH BPF_MAP_LOOKUP_AND_DELETE_BATCH BPF_MAP_UPDATE_BATCH
        BPF_MAP_DELETE_BATCH BPF_LINK_CREATE BPF_LINK_UPDATE BPF_LINK_GET_FD_BY_ID
        BPF_LINK_GET_NEXT_ID BPF_ENABLE_STATS BPF_ITER_CREATE BPF_LINK_DETACH
        BPF_PROG_BIND_MAP""",
    ),
    (
        "membarrier(2) commands",
        ["linux/membarrier.h"],
        """MEMBARRIER_CMD_QUERY MEMBARRIER_CMD_GLOBAL MEMBARRIER_CMD_GLOBAL_EXPEDITED
        MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED MEMBARRIER_CMD_PRIVATE_EXPEDITED
        MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE
        MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
        MEMBARRIER_CMD_PRIVATE_EXPEDITED_RSEQ MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_RSEQ
        MEMBARRIER_CMD_SHARED""",
    ),
]

# Constants that exist on one architecture only. Any other constant missing on an
# architecture is an error.
ONE_ARCH_CONSTANTS = {
    "MAP_32BIT": "x86_64",
    "PROT_BTI": "aarch64",
    "PROT_MTE": "aarch64",
    "ARCH_SET_GS": "x86_64",
    "ARCH_SET_FS": "x86_64",
    "ARCH_GET_FS": "x86_64",
    "ARCH_GET_GS": "x86_64",
    "ARCH_GET_CPUID": "x86_64",
    "ARCH_SET_CPUID": "x86_64",
    "ARCH_GET_XCOMP_SUPP": "x86_64",
    "ARCH_GET_XCOMP_PERM": "x86_64",
    "ARCH_REQ_XCOMP_PERM": "x86_64",
    "ARCH_GET_XCOMP_GUEST_PERM": "x86_64",
    "ARCH_REQ_XCOMP_GUEST_PERM": "x86_64",
    "ARCH_MAP_VDSO_X32": "x86_64",
    "ARCH_MAP_VDSO_32": "x86_64",
    "ARCH_MAP_VDSO_64": "x86_64",
    "PTRACE_GETREGS": "x86_64",
    "PTRACE_SETREGS": "x86_64",
    "PTRACE_GETFPREGS": "x86_64",
    "PTRACE_SETFPREGS": "x86_64",
    "PTRACE_ARCH_PRCTL": "x86_64",
}

# Names the UAPI headers lack, copied from the kernel's internal headers (path relative to
# KERNEL_HEADERS; None: every architecture). These headers are generic: neither x86 nor arm64
# overrides them. `enum:TAG` copies the definition of `enum TAG`.
KERNEL_INTERNAL_DEFINES = [
    (
        None,
        "include/linux/socket.h",
        """AF_UNSPEC AF_UNIX AF_LOCAL AF_INET AF_AX25 AF_IPX AF_APPLETALK AF_NETROM AF_BRIDGE
        AF_ATMPVC AF_X25 AF_INET6 AF_ROSE AF_DECnet AF_NETBEUI AF_SECURITY AF_KEY AF_NETLINK
        AF_ROUTE AF_PACKET AF_ASH AF_ECONET AF_ATMSVC AF_RDS AF_SNA AF_IRDA AF_PPPOX
        AF_WANPIPE AF_LLC AF_IB AF_MPLS AF_CAN AF_TIPC AF_BLUETOOTH AF_IUCV AF_RXRPC AF_ISDN
        AF_PHONET AF_IEEE802154 AF_CAIF AF_ALG AF_NFC AF_VSOCK AF_KCM AF_QIPCRTR AF_SMC
        AF_XDP AF_MCTP AF_MAX
        PF_UNSPEC PF_UNIX PF_LOCAL PF_INET PF_AX25 PF_IPX PF_APPLETALK PF_NETROM PF_BRIDGE
        PF_ATMPVC PF_X25 PF_INET6 PF_ROSE PF_DECnet PF_NETBEUI PF_SECURITY PF_KEY PF_NETLINK
        PF_ROUTE PF_PACKET PF_ASH PF_ECONET PF_ATMSVC PF_RDS PF_SNA PF_IRDA PF_PPPOX
        PF_WANPIPE PF_LLC PF_IB PF_MPLS PF_CAN PF_TIPC PF_BLUETOOTH PF_IUCV PF_RXRPC PF_ISDN
        PF_PHONET PF_IEEE802154 PF_CAIF PF_ALG PF_NFC PF_VSOCK PF_KCM PF_QIPCRTR PF_SMC
        PF_XDP PF_MCTP PF_MAX
        MSG_OOB MSG_PEEK MSG_DONTROUTE MSG_TRYHARD MSG_CTRUNC MSG_PROBE MSG_TRUNC
        MSG_DONTWAIT MSG_EOR MSG_WAITALL MSG_FIN MSG_SYN MSG_CONFIRM MSG_RST MSG_ERRQUEUE
        MSG_NOSIGNAL MSG_MORE MSG_WAITFORONE MSG_BATCH MSG_EOF MSG_ZEROCOPY MSG_FASTOPEN
        MSG_CMSG_CLOEXEC
        SOL_IP SOL_TCP SOL_UDP SOL_IPV6 SOL_ICMPV6 SOL_SCTP SOL_UDPLITE SOL_RAW SOL_PACKET
        SOL_NETLINK SOL_ALG SOL_TLS SOL_XDP SOL_MPTCP""",
    ),
    (
        None,
        "include/linux/net.h",
        "enum:sock_type enum:sock_shutdown_cmd SOCK_NONBLOCK SOCK_CLOEXEC",
    ),
    (None, "include/linux/fs.h", "MNT_FORCE MNT_DETACH MNT_EXPIRE UMOUNT_NOFOLLOW"),
    (None, "include/linux/eventfd.h", "EFD_SEMAPHORE EFD_CLOEXEC EFD_NONBLOCK"),
    # x86's UAPI <asm/signal.h> defines SIGRTMAX as _NSIG but leaves _NSIG to the kernel.
    ("x86_64", "arch/x86/include/asm/signal.h", "_NSIG"),
]

# Errno names come from these UAPI headers (identical on both architectures), plus the C
# library's alias ENOTSUP (the kernel's own ENOTSUPP, 524, is a different, internal code).
ERRNO_HEADERS = ["asm-generic/errno-base.h", "asm-generic/errno.h"]
ERRNO_ALIASES = {"ENOTSUP": "EOPNOTSUPP"}


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------


class GenError(Exception):
    """An input is missing, inconsistent or not covered by the tables above."""


def words(text):
    """Splits a whitespace-separated list."""
    return text.split()


class Compiler:
    """Runs the host gcc against one architecture's UAPI headers."""

    def __init__(self, arch, tmpdir):
        self.arch = arch
        if arch == "x86_64":
            inc = os.path.join(tmpdir, "x86_64-uapi")
            os.makedirs(inc, exist_ok=True)
            for name, target in sorted(X86_64_UAPI.items()):
                if not os.path.isdir(target):
                    raise GenError(f"missing input directory {target}")
                os.symlink(target, os.path.join(inc, name))
            self.flags = ["-nostdinc", "-I", inc]
            self.include_dir = inc
        else:
            if not os.path.isdir(AARCH64_UAPI):
                raise GenError(f"missing input directory {AARCH64_UAPI}")
            # The host compiler targets x86_64; hiding that makes the UAPI headers take their
            # arm64 branches. Both are LP64, so type sizes agree.
            self.flags = [
                "-nostdinc",
                "-I",
                AARCH64_UAPI,
                "-U__x86_64__",
                "-U__x86_64",
                "-U__amd64__",
                "-U__amd64",
                "-D__aarch64__",
            ]
            self.include_dir = AARCH64_UAPI

    def run(self, args, source):
        """Compiles `source` (C) with `args`; returns (exit code, stdout, stderr)."""
        env = dict(os.environ, LC_ALL="C", LANG="C")
        proc = subprocess.run(
            ["gcc"] + self.flags + args + ["-x", "c", "-"],
            input=source,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        return proc.returncode, proc.stdout, proc.stderr

    def preprocess(self, source, extra=()):
        """Runs the preprocessor; fails on any error."""
        code, out, err = self.run(["-E", "-P"] + list(extra), source)
        if code != 0:
            raise GenError(f"{self.arch}: preprocessing failed:\n{err}")
        return out

    def macros(self, source):
        """The macro definitions in effect after `source` (`gcc -dM`)."""
        code, out, err = self.run(["-E", "-dM"], source)
        if code != 0:
            raise GenError(f"{self.arch}: preprocessing failed:\n{err}")
        return out

    def evaluate(self, prelude, exprs):
        """Evaluates integer constant expressions after `prelude`.

        Returns ({index: value}, {index: error}) for `exprs` given as a list of strings. An
        expression that does not compile (typically: an undeclared name) lands in the second
        dictionary with the compiler's message.
        """
        pending = dict(enumerate(exprs))
        failed = {}
        while True:
            body = [prelude]
            for i, expr in sorted(pending.items()):
                # Two signed 32-bit halves: the x86_64 backend prints only immediates that
                # fit a sign-extended 32-bit field.
                body.append(
                    f"void f_{i}(void) {{ __asm__ volatile "
                    f'("\\n@@VALUE {i} %c0 %c1" :: '
                    f'"i" ((int)((long long)({expr}) >> 32)), '
                    f'"i" ((int)((unsigned long long)(long long)({expr}) & 0xffffffffULL))); }}\n'
                )
            code, out, err = self.run(["-S", "-O0", "-w", "-o", "-"], "".join(body))
            if code == 0:
                values = {}
                for m in re.finditer(r"^@@VALUE (\d+) (-?\d+) (-?\d+)\s*$", out, re.M):
                    high, low = int(m.group(2)), int(m.group(3))
                    values[int(m.group(1))] = (high << 32) + (low & 0xFFFFFFFF)
                if set(values) != set(pending):
                    raise GenError(f"{self.arch}: could not read every value back")
                return values, failed
            blocks = re.split(r"(?m)^.*In function 'f_(\d+)':\n", err)
            bad = {}
            for j in range(1, len(blocks), 2):
                i = int(blocks[j])
                msg = [ln for ln in blocks[j + 1].splitlines() if "error:" in ln]
                bad.setdefault(i, msg[0].split("error:", 1)[1].strip() if msg else "error")
            if not bad or not set(bad) <= set(pending):
                raise GenError(f"{self.arch}: compiling the constants failed:\n{err}")
            for i, msg in bad.items():
                failed[i] = msg
                del pending[i]


# ------------------------------------------------------------------------------------------
# Syscall tables
# ------------------------------------------------------------------------------------------


def syscall_numbers(cc):
    """{name: number} from the architecture's <asm/unistd.h>."""
    src = "#include <asm/unistd.h>\n"
    names = sorted(
        set(re.findall(r"^#define __NR_(\w+)[ \t]", cc.macros(src), re.M))
        - {"syscalls", "arch_specific_syscall"}
    )
    values, failed = cc.evaluate(src, [f"__NR_{n}" for n in names])
    if failed:
        raise GenError(f"{cc.arch}: cannot evaluate __NR_{names[min(failed)]}")
    return {names[i]: v for i, v in values.items()}


def i386_numbers():
    """{number: name} of the i386 ABI that x86_64 runs through `int 0x80`, for naming foreign
    calls in violation reports (the header holds plain literals)."""
    with open(I386_UNISTD, encoding="utf-8") as f:
        found = re.findall(r"^#define __NR_(\w+)\s+(\d+)\s*$", f.read(), re.M)
    if len(found) < 300:
        raise GenError(f"{I386_UNISTD}: only {len(found)} syscalls found")
    return {int(nr): name for name, nr in found}


def render_names(source, about, numbers):
    """The Rust source of a name table (`NAMES`, sorted by number) read from `source`; `about`
    is the module's doc comment, without the `//! ` prefixes."""
    out = [header_comment([source]), "\n"]
    out.extend(f"//! {line}\n" for line in about.split("\n"))
    out.append("\n/// Every syscall of the table, sorted by number.\n")
    out.append("pub(super) static NAMES: &[(u32, &str)] = &[\n")
    for nr in sorted(numbers):
        out.append(f'    ({nr}, "{numbers[nr]}"),\n')
    out.append("];\n")
    return "".join(out)


def x32_numbers():
    """{number: name} of the x32 ABI, whose calls reach x86_64's filter with __X32_SYSCALL_BIT
    set, for naming them in violation reports; numbers without the bit (the header holds
    `(__X32_SYSCALL_BIT + N)`)."""
    with open(X32_UNISTD, encoding="utf-8") as f:
        found = re.findall(
            r"^#define __NR_(\w+)\s+\(__X32_SYSCALL_BIT \+ (\d+)\)\s*$", f.read(), re.M
        )
    if len(found) < 300:
        raise GenError(f"{X32_UNISTD}: only {len(found)} syscalls found")
    return {int(nr): name for name, nr in found}


def aarch64_entry_points(cc):
    """{number: entry point} from the __SYSCALL(nr, entry) lines of asm-generic/unistd.h."""
    out = cc.preprocess(
        "#include <asm/unistd.h>\n", ["-D__SYSCALL(nr,call)=@@SYSCALL nr call"]
    )
    entries = {}
    for nr, call in re.findall(r"@@SYSCALL (\d+) (\w+)", out):
        if int(nr) in entries:
            raise GenError(f"aarch64: two entry points for syscall {nr}")
        entries[int(nr)] = call
    return entries


def strip_c_comments(text):
    """Removes comments, keeping line numbers."""
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def parse_syscalls_h(path, arch):
    """{function: (parameter text, line)} for the sys_*() declared for `arch` in syscalls.h."""
    try:
        with open(path, encoding="utf-8") as f:
            text = strip_c_comments(f.read())
    except OSError as e:
        raise GenError(f"cannot read {path}: {e}") from e
    decls = {}
    stack = []  # [condition, in #else]
    in_define = False
    pending = None  # (line, text, conditions)
    for lineno, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if in_define:
            in_define = s.endswith("\\")
            continue
        m = re.match(r"#\s*(ifdef|ifndef|if|elif|else|endif)\b\s*(.*)", s)
        if m:
            kind, rest = m.group(1), " ".join(m.group(2).split())
            if kind in ("if", "ifdef", "ifndef"):
                stack.append([f"{kind} {rest}", False])
            elif kind == "else":
                stack[-1][1] = True
            elif kind == "endif":
                stack.pop()
            else:
                raise GenError(f"{path}:{lineno}: #elif is not supported")
            continue
        if s.startswith("#"):
            in_define = s.startswith("#define") and s.endswith("\\")
            continue
        if pending is None:
            if not s.startswith("asmlinkage"):
                continue
            pending = (lineno, s, [tuple(c) for c in stack])
        else:
            pending = (pending[0], pending[1] + " " + s, pending[2])
        if ";" not in pending[1]:
            continue
        start, decl, conds = pending
        pending = None
        m = re.fullmatch(r"asmlinkage\s+long\s+(sys_\w+)\s*\((.*)\)\s*;", decl)
        if not m:
            raise GenError(f"{path}:{start}: cannot parse declaration: {decl}")
        active = True
        for cond, in_else in conds:
            if cond not in SYSCALLS_H_CONDITIONS:
                raise GenError(f"{path}:{start}: {m.group(1)} is under unknown #{cond}")
            value = SYSCALLS_H_CONDITIONS[cond]
            if isinstance(value, dict):
                value = value[arch]
            active = active and (value != in_else)
        if not active:
            continue
        if m.group(1) in decls:
            raise GenError(f"{path}:{start}: {m.group(1)} is declared twice")
        decls[m.group(1)] = (m.group(2), start)
    return decls


def parse_params(text, where, errors):
    """[(name or None, ArgType)] for a C parameter list."""
    text = " ".join(text.split())
    if text in ("void", ""):
        return []
    params = []
    for param in text.split(","):
        tokens = [t for t in re.findall(r"\w+|\*", param) if t not in ("const", "volatile")]
        is_ptr = "*" in tokens or "__user" in tokens
        tokens = [t for t in tokens if t != "__user"]
        name = None
        if tokens and tokens[-1] != "*" and tokens[-1] not in C_KEYWORDS and len(tokens) > 1:
            name = tokens[-1]
            tokens = tokens[:-1]
        ctype = " ".join(t for t in tokens if t != "*")
        if is_ptr:
            ty = "Ptr"
        elif ctype in TYPE_MAP:
            ty = TYPE_MAP[ctype]
        else:
            errors.append(f"{where}: unknown C type `{ctype}` in `{param.strip()}`")
            ty = None
        params.append((name, ty))
    return params


def build_syscall_table(arch, numbers, entries, decls, errors):
    """[(name, nr, [(arg name, ArgType)])] for `arch`, sorted by number."""
    table = {}
    for name, nr in numbers.items():
        table[name] = nr
    for name, nrs, _proto in LATER_SYSCALLS:
        if arch not in nrs:
            continue
        if name in table and table[name] != nrs[arch]:
            errors.append(f"{arch}: {name} is {table[name]} in the headers, {nrs[arch]} here")
        table[name] = nrs[arch]
    later = {name: proto for name, nrs, proto in LATER_SYSCALLS if arch in nrs}
    overrides = OVERRIDES[arch]
    unimplemented = UNIMPLEMENTED[arch]

    rows = []
    for name, nr in sorted(table.items(), key=lambda kv: kv[1]):
        where = f"{arch} {name} ({nr})"
        if arch == "x86_64":
            entry = None if name in unimplemented else X86_64_ENTRY_POINTS.get(name, f"sys_{name}")
        else:
            entry = entries.get(nr)
            if entry is None and name not in later:
                errors.append(f"{where}: no entry point in asm-generic/unistd.h")
            if entry == "sys_ni_syscall" and name not in unimplemented:
                errors.append(f"{where}: entry point is sys_ni_syscall; list it in UNIMPLEMENTED")
            if name in unimplemented and entry != "sys_ni_syscall":
                errors.append(f"{where}: listed in UNIMPLEMENTED but its entry is {entry}")
        if name in overrides:
            params = parse_params(overrides[name], where, errors)
            if entry in decls:
                declared = parse_params(decls[entry][0], where, errors)
                if [t for _, t in declared] != [t for _, t in params]:
                    errors.append(f"{where}: override disagrees with syscalls.h {entry}")
        elif name in unimplemented:
            params = []
        elif entry in decls:
            params = parse_params(decls[entry][0], f"{where} {entry}", errors)
        elif name in later:
            params = parse_params(later[name], where, errors)
        else:
            errors.append(f"{where}: no prototype for {entry}")
            continue
        rows.append((name, nr, narrow(name, name_args(name, params, where, errors), where, errors)))
    return rows


def narrow(syscall, args, where, errors):
    """Applies NARROWED: the listed arguments get the width the kernel reads."""
    widths = NARROWED.get(syscall, {})
    for arg in widths:
        if arg not in [n for n, _ in args]:
            errors.append(f"{where}: NARROWED names {arg!r}, which it does not have")
    return [(n, widths.get(n, ty)) for n, ty in args]


def name_args(syscall, params, where, errors):
    """Applies the argument renames; every argument must end up with a name."""
    if syscall in SYSCALL_ARG_NAMES:
        names = words(SYSCALL_ARG_NAMES[syscall])
        if len(names) != len(params):
            errors.append(f"{where}: SYSCALL_ARG_NAMES has {len(names)} names for "
                          f"{len(params)} arguments")
            return []
    else:
        names = []
        for i, (name, _ty) in enumerate(params):
            if name is None:
                errors.append(f"{where}: argument {i} has no name; add to SYSCALL_ARG_NAMES")
                name = f"arg{i}"
            names.append(GLOBAL_ARG_RENAMES.get(name, name))
    if len(set(names)) != len(names):
        errors.append(f"{where}: duplicate argument names {names}")
    if len(names) > 6:
        errors.append(f"{where}: more than six arguments")
    for n in names:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", n):
            errors.append(f"{where}: bad argument name {n!r}")
    return [(n, ty) for n, (_, ty) in zip(names, params)]


# ------------------------------------------------------------------------------------------
# Constants
# ------------------------------------------------------------------------------------------


def parse_constant_groups():
    """[(title, headers, [(name, expr)])] with every name checked for uniqueness."""
    seen = set()
    groups = []
    for title, headers, names in CONSTANT_GROUPS:
        entries = []
        for item in words(names):
            name, _, expr = item.partition("=")
            if name in seen:
                raise GenError(f"constant {name} is listed twice")
            seen.add(name)
            entries.append((name, expr or name))
        groups.append((title, headers, entries))
    return groups


def kernel_internal_defines(arch):
    """C text defining the names in KERNEL_INTERNAL_DEFINES that apply to `arch`."""
    out = []
    for only, relpath, names in KERNEL_INTERNAL_DEFINES:
        if only not in (None, arch):
            continue
        path = os.path.join(KERNEL_HEADERS, relpath)
        try:
            with open(path, encoding="utf-8") as f:
                text = strip_c_comments(f.read())
        except OSError as e:
            raise GenError(f"cannot read {path}: {e}") from e
        for name in words(names):
            if name.startswith("enum:"):
                tag = name[len("enum:"):]
                defs = re.findall(rf"^enum {tag} {{[^}}]*}};", text, re.M)
                if len(defs) != 1:
                    raise GenError(f"{path}: expected one enum {tag}, found {len(defs)}")
                out.append(defs[0] + "\n")
                continue
            defs = re.findall(rf"^[ \t]*#[ \t]*define[ \t]+{name}[ \t]+(.+?)[ \t]*$", text, re.M)
            if len(defs) != 1:
                raise GenError(f"{path}: expected one definition of {name}, found {len(defs)}")
            out.append(f"#ifndef {name}\n#define {name} {defs[0]}\n#endif\n")
    return "".join(out)


def include_lines(headers):
    """#include lines; a header in parentheses only where it exists."""
    lines = []
    for h in headers:
        if h.startswith("("):
            h = h.strip("()")
            lines.append(f"#if __has_include(<{h}>)\n#include <{h}>\n#endif\n")
        else:
            lines.append(f"#include <{h}>\n")
    return lines


def evaluate_constants(compilers, groups, errors):
    """{arch: {name: value}} for every listed constant available on that arch."""
    headers = []
    for _title, hs, _entries in groups:
        for line in include_lines(hs):
            if line not in headers:
                headers.append(line)
    entries = [e for _t, _h, es in groups for e in es]
    result = {}
    failures = {}
    for arch, cc in compilers.items():
        prelude = "".join(headers) + kernel_internal_defines(arch)
        values, failed = cc.evaluate(prelude, [expr for _name, expr in entries])
        result[arch] = {entries[i][0]: v for i, v in values.items()}
        failures[arch] = {entries[i][0]: msg for i, msg in failed.items()}
    for name, _expr in entries:
        present = [a for a in ARCHES if name in result[a]]
        expected = [ONE_ARCH_CONSTANTS[name]] if name in ONE_ARCH_CONSTANTS else list(ARCHES)
        if present != expected:
            for arch in ARCHES:
                if arch in expected and arch not in present:
                    errors.append(f"constant {name} is missing on {arch}: "
                                  f"{failures[arch].get(name)}")
                if arch in present and arch not in expected:
                    errors.append(f"constant {name} exists on {arch}; "
                                  "fix ONE_ARCH_CONSTANTS")
    return result


def evaluate_errnos(compilers):
    """[(name, value)] sorted by value, each alias after the name it aliases."""
    names = {}
    for cc in compilers.values():
        for h in ERRNO_HEADERS:
            path = os.path.join(cc.include_dir, h)
            try:
                with open(path, encoding="utf-8") as f:
                    text = strip_c_comments(f.read())
            except OSError as e:
                raise GenError(f"cannot read {path}: {e}") from e
            for name, value in re.findall(r"^#define[ \t]+(E[A-Z0-9]+)[ \t]+(\w+)", text, re.M):
                names[name] = value
    aliases = {n for n, v in names.items() if not v.isdigit()} | set(ERRNO_ALIASES)
    exprs = sorted(names) + sorted(ERRNO_ALIASES)
    src = "".join(f"#include <{h}>\n" for h in ERRNO_HEADERS)
    per_arch = {}
    for arch, cc in compilers.items():
        values, failed = cc.evaluate(src, [ERRNO_ALIASES.get(n, n) for n in exprs])
        if failed:
            raise GenError(f"{arch}: cannot evaluate errno {exprs[min(failed)]}")
        per_arch[arch] = {exprs[i]: v for i, v in values.items()}
    if per_arch["x86_64"] != per_arch["aarch64"]:
        raise GenError("errno values differ between architectures")
    table = per_arch["x86_64"]
    if not all(0 < v < 4096 for v in table.values()):
        raise GenError("an errno value is out of range")
    return sorted(table.items(), key=lambda kv: (kv[1], kv[0] in aliases, kv[0]))


# ------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------


def header_comment(inputs):
    """The generated-file banner."""
    lines = [f"// Generated by {SCRIPT} from"]
    for i, path in enumerate(inputs):
        lines.append(f"// {path}{',' if i < len(inputs) - 1 else ';'}")
    lines.append("// do not edit.")
    return "\n".join(lines) + "\n"


def render_syscalls(arch, rows):
    """The Rust source of one architecture's syscall table."""
    used = sorted({ty for _n, _nr, args in rows for _a, ty in args})
    inputs = [X86_64_UNISTD if arch == "x86_64" else AARCH64_UNISTD, SYSCALLS_H,
              f"and the hand-written tables in {SCRIPT}"]
    out = [header_comment(inputs), "\n"]
    out.append(f"//! The {arch} syscall table: numbers and argument prototypes.\n\n")
    out.append(f"use super::ArgType::{{{', '.join(used)}}};\n")
    out.append("use super::{arg, SyscallSpec};\n\n")
    out.append(f"/// Every {arch} syscall, sorted by number.\n")
    out.append("pub(super) static SYSCALLS: &[SyscallSpec] = &[\n")
    for name, nr, args in rows:
        rendered = ", ".join(f'arg("{a}", {ty})' for a, ty in args)
        out.append(f'    SyscallSpec {{ name: "{name}", nr: {nr}, args: &[{rendered}] }},\n')
    out.append("];\n")
    return "".join(out)


def rust_int(v):
    """A readable Rust integer literal."""
    if v < 0x100:
        return str(v)
    return hex(v)


def render_constants(groups, values, errnos):
    """The Rust source of the constants and errno tables."""
    inputs = ["the UAPI headers in /usr/include (x86_64) and " + AARCH64_UAPI + " (aarch64)",
              KERNEL_HEADERS + "/include (a few kernel-internal definitions)",
              f"and the hand-written tables in {SCRIPT}"]
    out = [header_comment(inputs), "\n"]
    out.append("//! The named constants a condition may use, with their value on each "
               "architecture,\n//! and the errno names.\n\n")
    out.append("use super::Constant;\n\n")
    out.append("/// Every named constant, in groups.\n")
    out.append("pub(crate) static CONSTANTS: &[Constant] = &[\n")
    for title, _headers, entries in groups:
        out.append(f"    // {title}\n")
        for name, _expr in entries:
            x = values["x86_64"].get(name)
            a = values["aarch64"].get(name)
            if x is not None and x == a:
                out.append(f'    Constant::same("{name}", {rust_int(x)}),\n')
            else:
                xs = "None" if x is None else f"Some({rust_int(x)})"
                as_ = "None" if a is None else f"Some({rust_int(a)})"
                out.append(f'    Constant::per_arch("{name}", {xs}, {as_}),\n')
    out.append("];\n\n")
    out.append("/// Every errno name with its value, sorted by value; an alias such as "
               "`EWOULDBLOCK`\n/// follows the name it aliases.\n")
    out.append("pub(crate) static ERRNOS: &[(&str, u16)] = &[\n")
    for name, v in errnos:
        out.append(f'    ("{name}", {v}),\n')
    out.append("];\n")
    return "".join(out)


def rustfmt(source):
    """Formats Rust source the way `cargo fmt` formats the crate."""
    proc = subprocess.run(
        ["rustfmt", "--edition", "2021", "--emit", "stdout"],
        input=source,
        capture_output=True,
        text=True,
        cwd=TABLES_DIR,
        check=False,
    )
    if proc.returncode != 0:
        raise GenError(f"rustfmt failed:\n{proc.stderr}")
    return proc.stdout


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------


def generate():
    """{file name: contents} for the generated files."""
    for path in (SYSCALLS_H, X86_64_UNISTD, AARCH64_UNISTD, I386_UNISTD, X32_UNISTD):
        if not os.path.isfile(path):
            raise GenError(f"missing input {path}")
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        compilers = {arch: Compiler(arch, tmp) for arch in ARCHES}
        tables = {}
        for arch in ARCHES:
            cc = compilers[arch]
            numbers = syscall_numbers(cc)
            entries = aarch64_entry_points(cc) if arch == "aarch64" else {}
            decls = parse_syscalls_h(SYSCALLS_H, arch)
            tables[arch] = build_syscall_table(arch, numbers, entries, decls, errors)
        known = {name for rows in tables.values() for name, _nr, _args in rows}
        for name in sorted(set(SYSCALL_ARG_NAMES) - known):
            errors.append(f"SYSCALL_ARG_NAMES names unknown syscall {name}")
        for arch in ARCHES:
            for name in sorted((set(OVERRIDES[arch]) | UNIMPLEMENTED[arch]) - known):
                errors.append(f"{arch}: tables name unknown syscall {name}")

        groups = parse_constant_groups()
        values = evaluate_constants(compilers, groups, errors)
        errnos = evaluate_errnos(compilers)
    if errors:
        raise GenError("\n".join(errors))

    files = {
        f"{arch}.rs": rustfmt(render_syscalls(arch, tables[arch])) for arch in ARCHES
    }
    files["constants.rs"] = rustfmt(render_constants(groups, values, errnos))
    files["i386.rs"] = rustfmt(render_names(
        I386_UNISTD,
        "i386 syscall names by number: what an `int 0x80` call on x86_64 asks for.",
        i386_numbers(),
    ))
    files["x32.rs"] = rustfmt(render_names(
        X32_UNISTD,
        "x32 syscall names by number, without `__X32_SYSCALL_BIT`: what a call with that bit\n"
        "set on x86_64 asks for.",
        x32_numbers(),
    ))
    summary = ", ".join(f"{arch}: {len(tables[arch])} syscalls" for arch in ARCHES)
    count = sum(len(e) for _t, _h, e in groups)
    print(f"{summary}; {count} constants; {len(errnos)} errno names", file=sys.stderr)
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a generated file is out of date")
    args = parser.parse_args()
    try:
        files = generate()
    except GenError as e:
        print(f"gen_tables: error:\n{e}", file=sys.stderr)
        return 2
    stale = []
    for name, text in sorted(files.items()):
        path = os.path.join(TABLES_DIR, name)
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current == text:
            continue
        stale.append(name)
        if not args.check:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if args.check and stale:
        print(f"gen_tables: out of date: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
