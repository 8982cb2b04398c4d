//! The runtime's own threads (a sandbox's monitor, the release thread, the fork server's
//! parent, the network-namespace maker), started with `pthread_create` rather than
//! `std::thread`.
//!
//! `std::thread` takes a lock of its own (its record of threads' stack guards) as each thread
//! starts and ends. A host that forks while any of its threads starts or ends leaves its child
//! a copy of that lock held by a thread the child does not have, and every `std::thread` the
//! child starts waits on it for ever: a sandbox made there would never get its monitor. These
//! threads take no lock to start or end. What they lose is only std's stack-overflow message
//! (an overflow still hits the guard page and ends the process) and a name
//! `std::thread::current` knows (the kernel's, `/proc/PID/task/TID/comm`, is set).

use std::ffi::{c_void, CString};
use std::io;
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What the new thread runs, with the name it gives itself.
struct Start {
    name: CString,
    job: Box<dyn FnOnce() + Send + 'static>,
}

/// Runs `job` on a new detached thread named `name` (the kernel keeps 15 bytes of it) with a
/// stack of `stack_size` bytes. A panic in `job` ends that thread only, after the panic hook
/// has reported it, as on a `std::thread`.
pub(crate) fn spawn_detached(
    name: &str,
    stack_size: usize,
    job: impl FnOnce() + Send + 'static,
) -> io::Result<()> {
    let name = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a thread name with a NUL"))?;
    let start = Box::into_raw(Box::new(Start {
        name,
        job: Box::new(job),
    }));
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: initialises the attribute object in place; destroyed below.
    let rc = unsafe { libc::pthread_attr_init(attr.as_mut_ptr()) };
    if rc != 0 {
        // SAFETY: the box leaked above, not handed to any thread.
        drop(unsafe { Box::from_raw(start) });
        return Err(io::Error::from_raw_os_error(rc));
    }
    let stack_size = stack_size.max(libc::PTHREAD_STACK_MIN);
    let mut thread: libc::pthread_t = 0;
    // SAFETY: `attr` was initialised above; `run` takes back the box `start` points to, which
    // only the new thread touches from here on if the create succeeds.
    let rc = unsafe {
        let attr = attr.as_mut_ptr();
        let mut rc = libc::pthread_attr_setstacksize(attr, stack_size);
        if rc == 0 {
            rc = libc::pthread_attr_setdetachstate(attr, libc::PTHREAD_CREATE_DETACHED);
        }
        if rc == 0 {
            rc = libc::pthread_create(&mut thread, attr, run, start.cast());
        }
        libc::pthread_attr_destroy(attr);
        rc
    };
    if rc != 0 {
        // SAFETY: no thread was made, so the box is still this function's.
        drop(unsafe { Box::from_raw(start) });
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// The new thread's entry: names the thread and runs its job; a panic stops here, never
/// unwinding into the C caller.
extern "C" fn run(start: *mut c_void) -> *mut c_void {
    // SAFETY: `start` is the box `spawn_detached` leaked for this thread, taken back once.
    let Start { name, job } = *unsafe { Box::from_raw(start.cast::<Start>()) };
    // SAFETY: prctl reads a NUL-terminated name, cut at 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) };
    drop(name);
    let _ = catch_unwind(AssertUnwindSafe(job));
    std::ptr::null_mut()
}

#[cfg(test)]
mod tests {
    use super::spawn_detached;
    use std::sync::mpsc;
    use std::time::Duration;

    /// The kernel's name of the calling thread.
    fn own_name() -> String {
        std::fs::read_to_string("/proc/thread-self/comm")
            .unwrap()
            .trim()
            .to_string()
    }

    #[test]
    fn the_job_runs_on_a_thread_of_the_name_given() {
        let (tx, rx) = mpsc::channel();
        spawn_detached("sandbox-test-th", 64 << 10, move || {
            let _ = tx.send((own_name(), std::thread::current().id()));
        })
        .unwrap();
        let (name, id) = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the job ran");
        assert_eq!(name, "sandbox-test-th");
        assert_ne!(id, std::thread::current().id());
    }

    #[test]
    fn a_panicking_job_ends_its_thread_only() {
        let (tx, rx) = mpsc::channel::<()>();
        spawn_detached("sandbox-test-pa", 64 << 10, move || {
            let _keep = tx;
            panic!("a job's panic");
        })
        .unwrap();
        // The sender is dropped as the panic unwinds; this process goes on.
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
    }

    #[test]
    fn a_name_with_a_nul_is_an_error() {
        let e = spawn_detached("a\0b", 64 << 10, || {}).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }
}
