//! libseccomp, loaded at run time with `dlopen("libseccomp.so.2")` so the benchmark builds and
//! runs (with a notice) where it is not installed. Rules go in through `seccomp_rule_add_array`
//! and the program comes back through `seccomp_export_bpf` into a memfd.

use super::forked;
use super::rules::{PeerCmp, PeerOp, PeerPolicy};
use sandbox_policy::{Action, SockFilter};
use std::ffi::{c_char, c_int, c_uint, c_void, CStr};
use std::io::Read;
use std::os::fd::FromRawFd;
use std::time::Duration;

/// `SCMP_FLTATR_CTL_OPTIMIZE` from `enum scmp_filter_attr` in `<seccomp.h>`.
const SCMP_FLTATR_CTL_OPTIMIZE: c_int = 8;
/// Optimisation level 2: a binary tree over syscall numbers.
const OPTIMIZE_BINARY_TREE: u32 = 2;
/// `SCMP_CMP_*` from `enum scmp_compare`.
const SCMP_CMP_NE: c_int = 1;
const SCMP_CMP_LT: c_int = 2;
const SCMP_CMP_LE: c_int = 3;
const SCMP_CMP_EQ: c_int = 4;
const SCMP_CMP_GE: c_int = 5;
const SCMP_CMP_GT: c_int = 6;
const SCMP_CMP_MASKED_EQ: c_int = 7;

/// `struct scmp_arg_cmp`.
#[repr(C)]
#[derive(Clone, Copy)]
struct ScmpArgCmp {
    arg: c_uint,
    op: c_int,
    datum_a: u64,
    datum_b: u64,
}

type Ctx = *mut c_void;
type InitFn = unsafe extern "C" fn(u32) -> Ctx;
type RuleAddArrayFn = unsafe extern "C" fn(Ctx, u32, c_int, c_uint, *const ScmpArgCmp) -> c_int;
type AttrSetFn = unsafe extern "C" fn(Ctx, c_int, u32) -> c_int;
type ExportBpfFn = unsafe extern "C" fn(Ctx, c_int) -> c_int;
type ReleaseFn = unsafe extern "C" fn(Ctx);

/// The library's entry points this benchmark uses.
pub struct LibSeccomp {
    init: InitFn,
    rule_add_array: RuleAddArrayFn,
    attr_set: AttrSetFn,
    export_bpf: ExportBpfFn,
    release: ReleaseFn,
}

/// How libseccomp lays out the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The default: a priority-sorted linear chain.
    Default,
    /// `SCMP_FLTATR_CTL_OPTIMIZE = 2`: a binary tree.
    BinaryTree,
}

impl LibSeccomp {
    /// Loads `libseccomp.so.2`, or says why it could not.
    pub fn load() -> Result<LibSeccomp, String> {
        // SAFETY: the name is a NUL-terminated literal; dlopen has no other preconditions.
        let handle = unsafe { libc::dlopen(c"libseccomp.so.2".as_ptr(), libc::RTLD_NOW) };
        if handle.is_null() {
            return Err(dl_error());
        }
        // SAFETY: each symbol is looked up by its documented name and cast to its prototype
        // from <seccomp.h> (libseccomp 2.x ABI); the handle is never closed, so they stay valid.
        unsafe {
            Ok(LibSeccomp {
                init: std::mem::transmute::<*mut c_void, InitFn>(symbol(handle, c"seccomp_init")?),
                rule_add_array: std::mem::transmute::<*mut c_void, RuleAddArrayFn>(symbol(
                    handle,
                    c"seccomp_rule_add_array",
                )?),
                attr_set: std::mem::transmute::<*mut c_void, AttrSetFn>(symbol(
                    handle,
                    c"seccomp_attr_set",
                )?),
                export_bpf: std::mem::transmute::<*mut c_void, ExportBpfFn>(symbol(
                    handle,
                    c"seccomp_export_bpf",
                )?),
                release: std::mem::transmute::<*mut c_void, ReleaseFn>(symbol(
                    handle,
                    c"seccomp_release",
                )?),
            })
        }
    }

    /// libseccomp's program for `policy` on the native architecture (x86_64), built in a forked
    /// child so a rule set libseccomp does not finish with (its rule database can take
    /// unbounded time on many argument rules) costs at most [`TIME_LIMIT`].
    pub fn program(&self, policy: &PeerPolicy, layout: Layout) -> Result<Vec<SockFilter>, String> {
        let answer = forked::run(TIME_LIMIT, || match self.program_here(policy, layout) {
            Ok(p) => p.iter().flat_map(|i| i.to_ne_bytes()).collect(),
            Err(e) => format!("ERR {e}").into_bytes(),
        })
        .map_err(|e| format!("libseccomp (seccomp_rule_add_array/export): {e}"))?;
        let bytes = answer.bytes;
        if let Some(err) = bytes.strip_prefix(b"ERR ") {
            return Err(String::from_utf8_lossy(err).into_owned());
        }
        // A child that died before its answer, or in the middle of it, gives no program.
        if bytes.is_empty() || bytes.len() % 8 != 0 {
            return Err(format!(
                "libseccomp's child ended with {} bytes of program (wait status {:#x})",
                bytes.len(),
                answer.status
            ));
        }
        Ok(bytes.chunks_exact(8).map(decode).collect())
    }

    /// [`LibSeccomp::program`] in this process.
    fn program_here(&self, policy: &PeerPolicy, layout: Layout) -> Result<Vec<SockFilter>, String> {
        // SAFETY: seccomp_init takes an action value and returns a context or NULL.
        let ctx = unsafe { (self.init)(action(policy.default)) };
        if ctx.is_null() {
            return Err("seccomp_init failed".into());
        }
        let result = self
            .fill(ctx, policy, layout)
            .and_then(|()| self.export(ctx));
        // SAFETY: ctx came from seccomp_init and is released exactly once.
        unsafe { (self.release)(ctx) };
        result
    }

    /// Adds every rule of `policy` to `ctx` and sets the layout.
    fn fill(&self, ctx: Ctx, policy: &PeerPolicy, layout: Layout) -> Result<(), String> {
        if layout == Layout::BinaryTree {
            // SAFETY: ctx is a live context; the attribute takes a plain integer.
            let rc =
                unsafe { (self.attr_set)(ctx, SCMP_FLTATR_CTL_OPTIMIZE, OPTIMIZE_BINARY_TREE) };
            check(rc, "seccomp_attr_set(SCMP_FLTATR_CTL_OPTIMIZE, 2)")?;
        }
        for (&nr, per_action) in &policy.syscalls {
            for rules in per_action {
                for conj in &rules.conjs {
                    one_comparison_per_arg(nr, conj)?;
                    let cmps: Vec<ScmpArgCmp> = conj.iter().map(arg_cmp).collect();
                    let len = c_uint::try_from(cmps.len()).map_err(|e| e.to_string())?;
                    let nr = c_int::try_from(nr).map_err(|e| e.to_string())?;
                    // SAFETY: ctx is live; cmps holds `len` initialised scmp_arg_cmp values.
                    let rc = unsafe {
                        (self.rule_add_array)(ctx, action(rules.action), nr, len, cmps.as_ptr())
                    };
                    check(rc, &format!("seccomp_rule_add_array(nr {nr})"))?;
                }
            }
        }
        Ok(())
    }

    /// Exports the program of `ctx` through a memfd and decodes it.
    fn export(&self, ctx: Ctx) -> Result<Vec<SockFilter>, String> {
        // SAFETY: the name is a NUL-terminated literal.
        let fd = unsafe { libc::memfd_create(c"libseccomp-bpf".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh descriptor owned by nobody else; File closes it.
        let mut file = unsafe { std::fs::File::from_raw_fd(fd) };
        // SAFETY: ctx is live and fd is open for writing.
        check(unsafe { (self.export_bpf)(ctx, fd) }, "seccomp_export_bpf")?;
        let mut bytes = Vec::new();
        use std::io::Seek;
        file.rewind().map_err(|e| e.to_string())?;
        file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        Ok(bytes.chunks_exact(8).map(decode).collect())
    }
}

/// `policy` as libseccomp can take it, and notes on what that changed. libseccomp takes one
/// comparison per argument in a rule, and an unconditional rule of a call swallows its
/// conditional ones, so "allow unless the argument is A or B" (`!= A && != B`, what the
/// prelude's `ioctl` guard leaves to `allow`) has no form there: such a conjunction keeps only
/// its first `!=` of the argument, which lets more calls through, the peer's way (its program
/// can only get shorter). Any other repeat is left for [`one_comparison_per_arg`] to refuse.
pub fn fit(policy: &PeerPolicy) -> (PeerPolicy, Vec<String>) {
    let mut fitted = policy.clone();
    let mut notes = Vec::new();
    for (nr, per_action) in fitted.syscalls.iter_mut() {
        for rules in per_action.iter_mut() {
            let action = rules.action;
            for c in rules.conjs.iter_mut().flat_map(drop_repeated_ne) {
                notes.push(format!(
                    "nr {nr}: `arg{} != {:#x}` dropped from a `{action}` rule (one comparison \
                     per argument; lets more through, its way)",
                    c.arg, c.value
                ));
            }
        }
    }
    (fitted, notes)
}

/// Drops from `conj` every comparison of an argument after its first, where all of that
/// argument's comparisons are `!=`; returns the dropped ones.
fn drop_repeated_ne(conj: &mut Vec<PeerCmp>) -> Vec<PeerCmp> {
    let only_ne = |arg| {
        conj.iter()
            .filter(|c| c.arg == arg)
            .all(|c| c.op == PeerOp::Ne)
    };
    let repeated: Vec<bool> = conj
        .iter()
        .enumerate()
        .map(|(i, c)| conj[..i].iter().any(|o| o.arg == c.arg) && only_ne(c.arg))
        .collect();
    let dropped = conj
        .iter()
        .zip(&repeated)
        .filter(|(_, r)| **r)
        .map(|(c, _)| *c)
        .collect();
    let mut flags = repeated.iter();
    conj.retain(|_| !flags.next().copied().unwrap_or(false));
    dropped
}

/// libseccomp rejects a rule with two comparisons of one argument (EINVAL); say so plainly.
fn one_comparison_per_arg(nr: u32, conj: &[PeerCmp]) -> Result<(), String> {
    for (i, c) in conj.iter().enumerate() {
        if conj[..i].iter().any(|o| o.arg == c.arg) {
            return Err(format!(
                "nr {nr}: two comparisons of arg{} in one rule; libseccomp takes one per argument",
                c.arg
            ));
        }
    }
    Ok(())
}

/// How long libseccomp may take to build one program.
const TIME_LIMIT: Duration = Duration::from_secs(20);

/// One `struct sock_filter` in native byte order.
fn decode(b: &[u8]) -> SockFilter {
    SockFilter {
        code: u16::from_ne_bytes([b[0], b[1]]),
        jt: b[2],
        jf: b[3],
        k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
    }
}

/// One comparison. libseccomp 2.5 compares all 64 bits, so an equality on an `int` argument
/// becomes a masked equality on the low word; other operators on `int`s compare 64 bits
/// (its documented behaviour; the benchmark's arguments have zero high words).
fn arg_cmp(c: &PeerCmp) -> ScmpArgCmp {
    let (op, a, b) = match c.op {
        PeerOp::Eq if !c.wide => (SCMP_CMP_MASKED_EQ, 0xffff_ffff, c.value),
        PeerOp::Eq => (SCMP_CMP_EQ, c.value, 0),
        PeerOp::Ne => (SCMP_CMP_NE, c.value, 0),
        PeerOp::Lt => (SCMP_CMP_LT, c.value, 0),
        PeerOp::Le => (SCMP_CMP_LE, c.value, 0),
        PeerOp::Gt => (SCMP_CMP_GT, c.value, 0),
        PeerOp::Ge => (SCMP_CMP_GE, c.value, 0),
        PeerOp::MaskedEq(mask) => (SCMP_CMP_MASKED_EQ, mask, c.value),
    };
    ScmpArgCmp {
        arg: c_uint::from(c.arg),
        op,
        datum_a: a,
        datum_b: b,
    }
}

/// The `SCMP_ACT_*` value of an action.
fn action(a: Action) -> u32 {
    match a {
        Action::Allow => 0x7fff_0000,
        Action::Log => 0x7ffc_0000,
        Action::Errno(e) => 0x0005_0000 | u32::from(e),
        Action::Trap => 0x0003_0000,
        Action::Kill => 0x8000_0000,
        Action::KillThread => 0,
    }
}

/// Turns a libseccomp return code (negative errno on failure) into a result.
fn check(rc: c_int, what: &str) -> Result<(), String> {
    if rc < 0 {
        Err(format!(
            "{what}: {}",
            std::io::Error::from_raw_os_error(-rc)
        ))
    } else {
        Ok(())
    }
}

/// Looks up `name` in the library behind `handle`.
///
/// # Safety
/// `handle` must come from a successful `dlopen`.
unsafe fn symbol(handle: *mut c_void, name: &CStr) -> Result<*mut c_void, String> {
    // SAFETY: the caller passes a live handle; name is NUL-terminated.
    let sym = unsafe { libc::dlsym(handle, name.as_ptr()) };
    if sym.is_null() {
        Err(format!("{}: {}", name.to_string_lossy(), dl_error()))
    } else {
        Ok(sym)
    }
}

/// The text of the last dynamic-loader error.
fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl call.
    let msg: *const c_char = unsafe { libc::dlerror() };
    if msg.is_null() {
        "unknown dlopen error".into()
    } else {
        // SAFETY: non-NULL, NUL-terminated, and copied before any other dl call.
        unsafe { CStr::from_ptr(msg) }
            .to_string_lossy()
            .into_owned()
    }
}
