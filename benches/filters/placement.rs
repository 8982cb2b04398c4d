//! Where the kernel puts each compiled filter, made random. The kernel packs JIT-compiled BPF
//! programs one after another, so copies of one filter stacked on a thread land at a fixed
//! stride, and the stride alone moves a run of the same code by several percent (the padded
//! controls show it: `SANDBOX_BENCH_SPACING=0 SANDBOX_BENCH_PADDED=100,800`). Before each copy a
//! classic BPF socket filter of random length, compiled and packed by the same JIT and never
//! run, shifts where the copy lands, so the stride's effect becomes noise that each child draws
//! anew, averaged over its copies, instead of a bias that follows a program's size.

use crate::wallclock::install;
use sandbox_policy::SockFilter;
use std::os::fd::{FromRawFd, OwnedFd};

/// The longest spacer, in classic instructions: compiled to x86-64, about 5 bytes each (a
/// 32-bit move), it spans more than the 4 KiB page over whose offsets the next copy then moves.
const SPACER_MOST: u64 = 1024;

/// Installs copies of a filter spaced at random, or packed when spacing is off.
pub struct Spacing {
    /// xorshift64* state, never zero; `None` when the copies are packed.
    state: Option<u64>,
}

impl Spacing {
    /// Spacing seeded by `getrandom` when `spaced`, none otherwise.
    pub fn new(spaced: bool) -> Result<Self, String> {
        if !spaced {
            return Ok(Self { state: None });
        }
        let mut seed = [0u8; 8];
        // SAFETY: seed is a writable buffer of the length passed.
        let got = unsafe { libc::getrandom(seed.as_mut_ptr().cast(), seed.len(), 0) };
        if got != seed.len() as isize {
            return Err(format!("getrandom: {}", std::io::Error::last_os_error()));
        }
        Ok(Self {
            state: Some(u64::from_ne_bytes(seed) | 1),
        })
    }

    /// A length in `1..=SPACER_MOST`, if spaced.
    fn next_len(&mut self) -> Option<usize> {
        let state = self.state.as_mut()?;
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        Some((state.wrapping_mul(0x2545_f491_4f6c_dd1d) % SPACER_MOST + 1) as usize)
    }

    /// Installs `copies` of `filter` on the calling thread, when spaced a spacer of random
    /// length before each. The spacers' sockets stay open until the process ends (with
    /// `_exit`, in a benchmark child): closing one frees its program, and would be a call the
    /// filter must allow.
    pub fn install(&mut self, filter: &[SockFilter], copies: usize) -> Result<(), String> {
        for _ in 0..copies {
            if let Some(len) = self.next_len() {
                std::mem::forget(spacer(len)?);
            }
            install(filter)?;
        }
        Ok(())
    }
}

/// A datagram socket holding a socket filter of `len` instructions (`len - 1` loads of a
/// constant, then `ret 0`), which the kernel compiles and packs like a seccomp filter. The
/// constant is not 0, which the x86-64 JIT would shorten to a 2-byte `xor`.
fn spacer(len: usize) -> Result<OwnedFd, String> {
    let mut insns = vec![
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_IMM) as u16,
            jt: 0,
            jf: 0,
            k: 1,
        };
        len - 1
    ];
    insns.push(libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k: 0,
    });
    let prog = libc::sock_fprog {
        len: u16::try_from(insns.len()).map_err(|_| "spacer too long".to_string())?,
        filter: insns.as_mut_ptr(),
    };
    // SAFETY: integer arguments only; returns a new descriptor or -1.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a new descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: prog points at `insns`, which outlives the call, and its size is passed; the
    // kernel copies the program.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(format!(
            "SO_ATTACH_FILTER: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(socket)
}
