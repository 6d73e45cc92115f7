//! Host work that goes on beside timings, stopped while one runs.
//!
//! A torch extension's build (ninja, nvcc, a C++ compiler) keeps every core busy for a minute or
//! more, and describing a KernelBench problem runs its Model at full size: work that must never
//! run while a card is timed. Holding a timing off until such work ends left every timing of a
//! batch waiting for a whole wave of builds (on an H100 machine with 16 builders, the first
//! review of an archive batch waited about 100 s for the builds in flight). Instead, each such
//! process group is registered here while it runs, and a timing on any card of the process
//! stops every registered group (`SIGSTOP` to the group) for its length, then lets them go on
//! (`SIGCONT`). A stopped process uses no CPU; what it holds in memory stays. The groups are the
//! judge's own: a worker leads a group that it and its children cannot leave (see
//! [`crate::python_sandbox`]).

use std::sync::{Mutex, MutexGuard};

/// The registered process groups, and how many timings hold them stopped.
#[derive(Default)]
struct Groups {
    leaders: Vec<(u64, u32)>,
    next: u64,
    hushed: usize,
}

static GROUPS: Mutex<Groups> = Mutex::new(Groups { leaders: Vec::new(), next: 0, hushed: 0 });

fn groups() -> MutexGuard<'static, Groups> {
    GROUPS.lock().unwrap_or_else(|e| e.into_inner())
}

fn signal(leader: u32, signal: libc::c_int) {
    // SAFETY: a signal to a process group the judge started (its leader's pid is the group's
    // id); a group that has gone by now answers ESRCH, which is nothing to do.
    unsafe { libc::kill(-(leader as i32), signal) };
}

/// The [`sadoku_core::judge::Quiet`] of every card's gate: the registered groups, stopped while
/// any card is timed.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostWork;

impl sadoku_core::judge::Quiet for HostWork {
    fn hush(&self) {
        let mut g = groups();
        g.hushed += 1;
        if g.hushed == 1 {
            for &(_, leader) in &g.leaders {
                signal(leader, libc::SIGSTOP);
            }
        }
    }

    fn resume(&self) {
        let mut g = groups();
        g.hushed = g.hushed.saturating_sub(1);
        if g.hushed == 0 {
            for &(_, leader) in &g.leaders {
                signal(leader, libc::SIGCONT);
            }
        }
    }
}

/// A process group registered as host work while this lives (see [`register`]).
pub struct Registered(u64);

/// Register the process group `leader` leads as host work: stopped at once if a timing runs, and
/// for every timing until the returned value is dropped.
pub fn register(leader: u32) -> Registered {
    let mut g = groups();
    let id = g.next;
    g.next += 1;
    g.leaders.push((id, leader));
    if g.hushed > 0 {
        signal(leader, libc::SIGSTOP);
    }
    Registered(id)
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut g = groups();
        if let Some(i) = g.leaders.iter().position(|&(id, _)| id == self.0) {
            let (_, leader) = g.leaders.remove(i);
            // Whatever is left of it is killed or reaped next: never left stopped.
            if g.hushed > 0 {
                signal(leader, libc::SIGCONT);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt as _;

    use sadoku_core::judge::{GpuGate, Quiet as _};

    use super::*;

    /// A busy process group of its own (a shell looping, and a child of it).
    fn busy() -> std::process::Child {
        std::process::Command::new("sh")
            .args(["-c", "sh -c 'while :; do :; done' & while :; do :; done"])
            .process_group(0)
            .spawn()
            .expect("sh starts")
    }

    /// Whether a process is stopped (state `T` in `/proc`).
    fn stopped(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| stat.rfind(')').map(|end| stat[end + 2..].starts_with('T')))
            .unwrap_or(false)
    }

    /// The tests share the process's one registry: one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn settle() {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }

    #[test]
    fn a_timing_stops_registered_host_work_whole_and_lets_it_go_on_after() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut child = busy();
        let leader = child.id();
        settle();
        let group = crate::placement::processes(leader, true);
        assert_eq!(group.len(), 2, "the shell and its child");
        let registered = register(leader);
        let gate = GpuGate::with_quiet(std::sync::Arc::new(HostWork));
        assert!(group.iter().all(|&p| !stopped(p)), "running until a timing starts");
        {
            let _timing = gate.exclusive();
            settle();
            assert!(group.iter().all(|&p| stopped(p)), "every process of the group stopped during the timing");
        }
        settle();
        assert!(group.iter().all(|&p| !stopped(p)), "going on after it");
        drop(gate.shared());
        settle();
        assert!(group.iter().all(|&p| !stopped(p)), "verification stops nothing");
        drop(registered);
        crate::child::kill_group(leader);
        let _ = child.wait();
    }

    #[test]
    fn work_registered_during_a_timing_stops_at_once_and_unregistered_work_is_never_left_stopped() {
        let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut late = busy();
        let mut other = busy();
        settle();
        HostWork.hush();
        let registered = register(late.id());
        settle();
        assert!(stopped(late.id()), "registered while a timing runs: stopped at once");
        assert!(!stopped(other.id()), "what is not registered is not touched");
        drop(registered);
        settle();
        assert!(!stopped(late.id()), "unregistered during the timing: going on");
        HostWork.resume();
        for c in [&mut late, &mut other] {
            crate::child::kill_group(c.id());
            let _ = c.wait();
        }
    }
}
