//! The byte form of a launch request to the fork server: the [`PlanParts`], which standard
//! streams come with a descriptor, and the numbers passed descriptors go to. The descriptors
//! themselves travel beside it, in a fixed order (see [`super::server`]).
//!
//! Host and server are the same executable, so the format needs no versioning; decoding still
//! checks every length and tag, and fails rather than guessing.

use super::mounts::{BindOp, MountOp, MountPlan};
use super::plan::PlanParts;
use crate::limits::Rlimit;
use crate::seccomp::PreparedFilter;
use sandbox_policy::bpf::SockFilter;
use sandbox_policy::host_guard::Guards;
use std::ffi::CString;
use std::os::fd::RawFd;

/// A launch request without its descriptors.
pub(crate) struct Request {
    pub parts: PlanParts,
    /// Whether standard stream 0, 1, 2 comes with a descriptor.
    pub stdio: [bool; 3],
    /// The number each passed descriptor is given in the sandboxee.
    pub passed_targets: Vec<RawFd>,
    /// Whether the host places init in a cgroup once it has the reply. A spare then waits for
    /// the host's release, as a fresh init always does (for its id maps); otherwise it starts
    /// the sandboxee as soon as it has the request (see [`super::spare`]).
    pub joins_cgroup: bool,
}

/// A request that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("malformed fork-server request: {0}")]
pub(crate) struct Malformed(&'static str);

/// The largest number a passed descriptor may be moved to, so that arithmetic on it cannot
/// overflow. The kernel's ceiling on open files (`fs.nr_open`) can be raised above it, nearly
/// to 2^31, but no open-files limit that large is in practical use.
const MAX_PASSED_TARGET: RawFd = 1 << 30;

/// The first of `sorted` (passed descriptors' target numbers, in order) that cannot be one: a
/// number not above 2 (a standard stream), one given twice, or one above [`MAX_PASSED_TARGET`].
/// The host checks this before it sends a request, and the server again when it reads one, so
/// the server never refuses a request the host let through.
pub(crate) fn bad_target(sorted: &[RawFd]) -> Option<RawFd> {
    let low = sorted.first().filter(|t| **t <= 2);
    let twice = sorted.windows(2).find(|w| w[0] == w[1]).map(|w| &w[0]);
    let high = sorted.last().filter(|t| **t > MAX_PASSED_TARGET);
    low.or(twice).or(high).copied()
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_ne_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_ne_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
    fn cstr(&mut self, c: &CString) {
        self.bytes(c.as_bytes());
    }
    fn cstrs(&mut self, v: &[CString]) {
        self.len(v.len());
        v.iter().for_each(|c| self.cstr(c));
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, Malformed> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_ne_bytes(a))
    }
    fn bool(&mut self) -> Result<bool, Malformed> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Malformed("bad boolean")),
        }
    }
    /// A count of items of at least `min_item` bytes each, checked against what is left.
    fn count(&mut self, min_item: usize) -> Result<usize, Malformed> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item.max(1)) > self.0.len() {
            return Err(Malformed("count larger than the message"));
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<&[u8], Malformed> {
        let n = self.count(1)?;
        self.take(n)
    }
    fn cstr(&mut self) -> Result<CString, Malformed> {
        CString::new(self.bytes()?).map_err(|_| Malformed("NUL inside a string"))
    }
    fn cstrs(&mut self) -> Result<Vec<CString>, Malformed> {
        let n = self.count(4)?;
        (0..n).map(|_| self.cstr()).collect()
    }
}

const BIND: u8 = 1;
const TMPFS: u8 = 2;
const PROC: u8 = 3;
const SYMLINK: u8 = 4;

impl Request {
    /// The request as bytes: its [`Request::namespace_key`] first, then the rest.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(4096));
        self.write_namespace(&mut w);
        let p = &self.parts;
        for b in self.stdio {
            w.u8(b.into());
        }
        w.u8(self.joins_cgroup.into());
        w.len(self.passed_targets.len());
        for t in &self.passed_targets {
            w.u32(*t as u32);
        }
        w.cstr(&p.cwd);
        w.cstrs(&p.candidates);
        w.cstrs(&p.argv);
        w.cstrs(&p.envp);
        w.len(p.rlimits.len());
        for r in &p.rlimits {
            w.u32(r.resource);
            w.u64(r.soft);
            w.u64(r.hard);
        }
        w.u8(p.separate_guards.bits());
        w.u8(p.confine_reopening.into());
        match &p.filter {
            None => w.u8(0),
            Some(f) => {
                w.u8(1);
                w.u8(f.notify.into());
                w.u8(f.killable_wait.into());
                w.u64(f.exec_arg);
                w.len(f.insns.len());
                for i in &f.insns {
                    w.u32(u32::from(i.code) | u32::from(i.jt) << 16 | u32::from(i.jf) << 24);
                    w.u32(i.k);
                }
            }
        }
        w.0
    }

    /// The part of the request that is the same for every sandbox a spare init could serve
    /// (see [`super::spare`]): ids, network, whether user namespaces stay open, hostname and
    /// the file system, as bytes.
    pub(crate) fn namespace_key(&self) -> Vec<u8> {
        let mut w = Writer(Vec::with_capacity(1024));
        self.write_namespace(&mut w);
        w.0
    }

    fn write_namespace(&self, w: &mut Writer) {
        let p = &self.parts;
        for b in [p.clear_groups, p.new_net, p.user_namespaces] {
            w.u8(b.into());
        }
        w.cstr(&p.hostname);
        w.len(p.mounts.ops.len());
        for op in &p.mounts.ops {
            encode_mount(w, op);
        }
    }

    /// Reads a request made by [`Request::encode`].
    pub(crate) fn decode(bytes: &[u8]) -> Result<Request, Malformed> {
        let mut r = Reader(bytes);
        let clear_groups = r.bool()?;
        let new_net = r.bool()?;
        let user_namespaces = r.bool()?;
        let hostname = r.cstr()?;
        let n = r.count(1)?;
        let ops = (0..n)
            .map(|_| decode_mount(&mut r))
            .collect::<Result<_, _>>()?;
        let stdio = [r.bool()?, r.bool()?, r.bool()?];
        let joins_cgroup = r.bool()?;
        let n = r.count(4)?;
        let passed_targets: Vec<RawFd> = (0..n)
            .map(|_| r.u32().map(|t| t as RawFd))
            .collect::<Result<_, _>>()?;
        // As the host checks before it sends (`spawn::start`).
        let mut sorted = passed_targets.clone();
        sorted.sort_unstable();
        if bad_target(&sorted).is_some() {
            return Err(Malformed(
                "a passed descriptor's number is not above 2, too large, or twice",
            ));
        }
        let cwd = r.cstr()?;
        let candidates = r.cstrs()?;
        let argv = r.cstrs()?;
        let envp = r.cstrs()?;
        let n = r.count(20)?;
        let rlimits = (0..n)
            .map(|_| {
                Ok(Rlimit {
                    resource: r.u32()?,
                    soft: r.u64()?,
                    hard: r.u64()?,
                })
            })
            .collect::<Result<_, Malformed>>()?;
        let separate_guards = Guards::from_bits(r.u8()?).ok_or(Malformed("unknown host guards"))?;
        let confine_reopening = r.bool()?;
        let filter = if r.bool()? {
            let notify = r.bool()?;
            let killable_wait = r.bool()?;
            let exec_arg = r.u64()?;
            let n = r.count(8)?;
            if n == 0 || n > sandbox_policy::bpf::BPF_MAXINSNS {
                return Err(Malformed(
                    "a filter of no instruction or more than the kernel takes",
                ));
            }
            let insns = (0..n)
                .map(|_| {
                    let head = r.u32()?;
                    Ok(SockFilter {
                        code: head as u16,
                        jt: (head >> 16) as u8,
                        jf: (head >> 24) as u8,
                        k: r.u32()?,
                    })
                })
                .collect::<Result<_, Malformed>>()?;
            Some(PreparedFilter {
                insns,
                notify,
                killable_wait,
                exec_arg,
            })
        } else {
            None
        };
        if !r.0.is_empty() {
            return Err(Malformed("trailing bytes"));
        }
        Ok(Request {
            parts: PlanParts {
                clear_groups,
                new_net,
                user_namespaces,
                hostname,
                mounts: MountPlan {
                    ops,
                    ..MountPlan::default()
                },
                cwd,
                rlimits,
                candidates,
                argv,
                envp,
                filter,
                separate_guards,
                confine_reopening,
            },
            stdio,
            passed_targets,
            joins_cgroup,
        })
    }
}

fn encode_mount(w: &mut Writer, op: &MountOp) {
    match op {
        MountOp::Bind(b) => {
            w.u8(BIND);
            w.cstr(&b.src);
            w.cstr(&b.dst);
            w.cstrs(&b.parents);
            for flag in [b.writable, b.exec, b.device] {
                w.u8(flag.into());
            }
        }
        MountOp::Tmpfs {
            dst,
            parents,
            data,
            flags,
        } => {
            w.u8(TMPFS);
            w.cstr(dst);
            w.cstrs(parents);
            w.cstr(data);
            w.u64(*flags);
        }
        MountOp::Proc { dst, parents } => {
            w.u8(PROC);
            w.cstr(dst);
            w.cstrs(parents);
        }
        MountOp::Symlink {
            target,
            link,
            parents,
        } => {
            w.u8(SYMLINK);
            w.cstr(target);
            w.cstr(link);
            w.cstrs(parents);
        }
    }
}

fn decode_mount(r: &mut Reader<'_>) -> Result<MountOp, Malformed> {
    Ok(match r.u8()? {
        BIND => MountOp::Bind(BindOp {
            src: r.cstr()?,
            dst: r.cstr()?,
            parents: r.cstrs()?,
            writable: r.bool()?,
            exec: r.bool()?,
            device: r.bool()?,
        }),
        TMPFS => MountOp::Tmpfs {
            dst: r.cstr()?,
            parents: r.cstrs()?,
            data: r.cstr()?,
            flags: r.u64()?,
        },
        PROC => MountOp::Proc {
            dst: r.cstr()?,
            parents: r.cstrs()?,
        },
        SYMLINK => MountOp::Symlink {
            target: r.cstr()?,
            link: r.cstr()?,
            parents: r.cstrs()?,
        },
        _ => return Err(Malformed("unknown mount kind")),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::command::{Mount, SandboxCommand};
    use crate::spawn::idmap::IdMaps;
    use crate::spawn::plan::Confinement;

    /// A request with every kind of part, for the tests here and the server's.
    pub(crate) fn request() -> Request {
        let mut cmd = SandboxCommand::new("prog");
        cmd.args(["a b", ""])
            .env("K", "V=1")
            .hostname("h")
            .allow_user_namespaces(true);
        let mounts = MountPlan::build(&[
            Mount::Bind {
                src: "/usr".into(),
                dst: "/usr".into(),
                writable: false,
                exec: true,
            },
            Mount::Tmpfs {
                dst: "/tmp".into(),
                size: 1 << 20,
                exec: false,
            },
            Mount::Symlink {
                target: "usr/bin".into(),
                link: "/bin".into(),
            },
        ])
        .unwrap();
        let rlimits = crate::Limits {
            cpu_time: Some(std::time::Duration::from_secs(2)),
            memory: Some(1 << 30),
            ..Default::default()
        }
        .plan(false, false)
        .0;
        let filter = PreparedFilter {
            insns: vec![
                SockFilter {
                    code: 0x20,
                    jt: 3,
                    jf: 250,
                    k: 4,
                },
                SockFilter {
                    code: 6,
                    jt: 0,
                    jf: 0,
                    k: 0x7fff_0000,
                },
            ],
            notify: true,
            killable_wait: true,
            exec_arg: 0x0123_4567_89ab_cdef,
        };
        let (parts, _) = PlanParts::build(
            &cmd,
            &[5, 9],
            &IdMaps::for_caller().unwrap(),
            rlimits,
            Some(filter),
            mounts,
            Confinement {
                separate_guards: Guards::BOTH,
                reopening: false,
            },
        )
        .unwrap();
        Request {
            parts,
            stdio: [true, false, true],
            passed_targets: vec![5, 9],
            joins_cgroup: true,
        }
    }

    #[test]
    fn a_request_survives_the_trip() {
        let req = request();
        let bytes = req.encode();
        let back = Request::decode(&bytes).unwrap();
        // Encoding is deterministic, so equal bytes mean equal requests.
        assert_eq!(back.encode(), bytes);
        assert_eq!(back.parts.argv, req.parts.argv);
        assert_eq!(back.parts.mounts.ops.len(), req.parts.mounts.ops.len());
        assert_eq!(back.parts.rlimits, req.parts.rlimits);
        assert_eq!(back.passed_targets, [5, 9]);
        assert_eq!(back.stdio, [true, false, true]);
        assert!(back.joins_cgroup);
        assert_eq!(back.parts.separate_guards, Guards::BOTH);
        assert!(!back.parts.confine_reopening);
        assert!(back.parts.user_namespaces);
    }

    /// A spare whose init left user namespaces open must not serve a request that closes them,
    /// nor the other way round: the spare is matched by this key.
    #[test]
    fn whether_user_namespaces_stay_open_is_part_of_the_spare_key() {
        let open = request();
        let mut closed = request();
        closed.parts.user_namespaces = false;
        assert!(open.parts.user_namespaces);
        assert_ne!(open.namespace_key(), closed.namespace_key());
        let back = Request::decode(&closed.encode()).unwrap();
        assert!(!back.parts.user_namespaces);
        assert_eq!(back.namespace_key(), closed.namespace_key());
    }

    #[test]
    fn a_bad_target_is_a_standard_stream_a_number_given_twice_or_too_large() {
        assert_eq!(bad_target(&[-1, 7]), Some(-1));
        assert_eq!(bad_target(&[2, 5]), Some(2));
        assert_eq!(bad_target(&[3, 5, 5]), Some(5));
        assert_eq!(
            bad_target(&[3, MAX_PASSED_TARGET + 1]),
            Some(MAX_PASSED_TARGET + 1)
        );
        assert_eq!(bad_target(&[3, 4, MAX_PASSED_TARGET]), None);
        assert_eq!(bad_target(&[]), None);
    }

    #[test]
    fn passed_descriptor_numbers_are_checked_as_the_host_checks_them() {
        for bad in [vec![2, 5], vec![5, 5], vec![-1, 7], vec![5, i32::MAX]] {
            let mut req = request();
            req.passed_targets = bad.clone();
            assert!(Request::decode(&req.encode()).is_err(), "{bad:?}");
        }
    }

    /// A filter longer than the kernel takes is refused as it is decoded, never installed in
    /// part (the length the kernel reads is 16 bits wide).
    #[test]
    fn a_filter_longer_than_the_kernel_takes_is_refused() {
        let mut req = request();
        let one = SockFilter {
            code: 6,
            jt: 0,
            jf: 0,
            k: 0x7fff_0000,
        };
        let Some(filter) = req.parts.filter.as_mut() else {
            panic!("the sample request has a filter");
        };
        filter.insns = vec![one; sandbox_policy::bpf::BPF_MAXINSNS];
        assert!(Request::decode(&req.encode()).is_ok());
        if let Some(filter) = req.parts.filter.as_mut() {
            filter.insns = vec![one; (1 << 16) + 1];
        }
        assert!(Request::decode(&req.encode()).is_err());
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let bytes = request().encode();
        for n in 0..bytes.len() {
            assert!(Request::decode(&bytes[..n]).is_err(), "prefix of {n} bytes");
        }
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            let mut b = bytes.clone();
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let i = (rng % b.len() as u64) as usize;
            b[i] ^= (rng >> 32) as u8 | 1;
            let _ = Request::decode(&b);
        }
        let mut long = bytes;
        long.push(0);
        assert!(Request::decode(&long).is_err());
    }
}
