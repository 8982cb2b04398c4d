// Placeholder until gen_tables.py generates it.
use super::{ArgSpec, ArgType, SyscallSpec};
pub(super) static SYSCALLS: &[SyscallSpec] = &[
    SyscallSpec { name: "read", nr: 0, args: &[ArgSpec { name: "fd", ty: ArgType::U32 }, ArgSpec { name: "buf", ty: ArgType::Ptr }, ArgSpec { name: "count", ty: ArgType::U64 }] },
    SyscallSpec { name: "write", nr: 1, args: &[ArgSpec { name: "fd", ty: ArgType::U32 }, ArgSpec { name: "buf", ty: ArgType::Ptr }, ArgSpec { name: "count", ty: ArgType::U64 }] },
];
