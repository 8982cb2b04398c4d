// Placeholder until gen_tables.py generates it.
use super::Constant;
pub(crate) static CONSTANTS: &[Constant] = &[
    Constant { name: "AT_FDCWD", x86_64: -100, aarch64: -100 },
    Constant { name: "PROT_EXEC", x86_64: 4, aarch64: 4 },
    Constant { name: "O_ACCMODE", x86_64: 3, aarch64: 3 },
    Constant { name: "O_RDONLY", x86_64: 0, aarch64: 0 },
    Constant { name: "AF_UNIX", x86_64: 1, aarch64: 1 },
];
pub(crate) static ERRNOS: &[(&str, u16)] = &[("EPERM", 1), ("ENOSYS", 38)];
