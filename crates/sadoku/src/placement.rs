//! Where the processes of a timing run: the candidate's worker and the baseline's process are
//! held on the same CPUs while it lasts (`TimingOptions::cpus`), each GPU's timings on CPUs of
//! their own.
//!
//! A launch-bound call (an eager network of many small kernels) is timed by host time: the
//! Python interpreter's dispatch between kernels. Two processes on different cores run it at
//! different speeds (one beside a busy SMT sibling, one woken on an idle core at a low clock),
//! and a Model timed against itself was called 1.7× faster. On the same cores, one after the
//! other, both sides run on the same hardware.

use std::sync::OnceLock;

/// CPUs a GPU's timings are held on.
pub const PER_GPU: usize = 2;

/// The CPUs this process may run on, as it started (what a pinned worker goes back to).
pub fn allowed() -> &'static [usize] {
    static ALLOWED: OnceLock<Vec<usize>> = OnceLock::new();
    ALLOWED.get_or_init(|| affinity(0).unwrap_or_default())
}

/// The CPUs the timings on the `rank`-th GPU of a run are held on: [`PER_GPU`] of the allowed
/// ones, from the last down, a pair per GPU; none where that would leave fewer than half the
/// allowed CPUs to everything else, or where `SADOKU_NO_PIN` is set (to measure what holding
/// them changes).
pub fn timing_cpus(rank: usize) -> Vec<usize> {
    if std::env::var_os("SADOKU_NO_PIN").is_some() {
        return Vec::new();
    }
    pick(allowed(), rank)
}

fn pick(allowed: &[usize], rank: usize) -> Vec<usize> {
    let taken = PER_GPU * (rank + 1);
    if taken * 2 > allowed.len() {
        return Vec::new();
    }
    let end = allowed.len() - PER_GPU * rank;
    allowed[end - PER_GPU..end].to_vec()
}

/// The CPUs task `tid` (0: the calling thread) may run on.
fn affinity(tid: i32) -> Option<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is an empty set; sched_getaffinity writes at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::sched_getaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } == 0;
    ok.then(|| (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect())
}

/// Hold every thread of the process `pid` on `cpus`; with `group`, of every process in the
/// process group it leads (a Python worker's interpreter under `sadoku pyworker`). Best effort:
/// a thread that ends meanwhile, or one that will not move, stays as it is.
pub fn pin(pid: u32, group: bool, cpus: &[usize]) {
    if cpus.is_empty() {
        return;
    }
    // SAFETY: as in `affinity`; CPU_SET stays within the set for CPUs below CPU_SETSIZE.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    for p in processes(pid, group) {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else { continue };
        for tid in tasks.flatten().filter_map(|t| t.file_name().to_str().and_then(|n| n.parse::<i32>().ok())) {
            // SAFETY: sets the affinity of one task of a process the judge started.
            unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        }
    }
}

/// `pid`, and with `group` every other live process of the group it leads.
pub(crate) fn processes(pid: u32, group: bool) -> Vec<u32> {
    if !group {
        return vec![pid];
    }
    let mut found = vec![pid];
    found.extend(group_members(pid).into_iter().filter(|&p| p != pid));
    found
}

/// The live (not zombie) processes of the process group `leader` leads, the leader among them
/// while it lives.
pub(crate) fn group_members(leader: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After the command's closing parenthesis: state, ppid, pgrp.
        let rest = &stat[stat.rfind(')')? + 2..];
        let mut fields = rest.split(' ');
        let state = fields.next()?;
        let pgrp: u32 = fields.nth(1)?.parse().ok()?;
        (pgrp == leader && state != "Z" && state != "X").then_some(pid)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt as _;

    use super::*;

    #[test]
    fn each_gpu_gets_a_pair_of_its_own_and_never_more_than_half_the_cpus() {
        let sixteen: Vec<usize> = (0..16).collect();
        assert_eq!(pick(&sixteen, 0), vec![14, 15]);
        assert_eq!(pick(&sixteen, 1), vec![12, 13]);
        assert_eq!(pick(&sixteen, 3), vec![8, 9]);
        assert!(pick(&sixteen, 4).is_empty(), "a fifth pair would leave fewer than half");
        assert!(pick(&[0, 1, 2], 0).is_empty(), "three CPUs: none held");
        assert_eq!(pick(&[0, 2, 4, 6], 0), vec![4, 6], "the allowed CPUs, not their numbers");
    }

    #[test]
    fn a_pinned_group_runs_on_the_cpus_named_and_goes_back_after() {
        let all = allowed().to_vec();
        if all.len() < 2 {
            return; // One CPU: nothing to hold anything to.
        }
        // A shell leading its own group, with a child in it.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .process_group(0)
            .spawn()
            .expect("sh starts");
        std::thread::sleep(std::time::Duration::from_millis(200));
        let leader = child.id();
        let members = processes(leader, true);
        assert_eq!(members.len(), 2, "the shell and its sleep");
        let one = [all[all.len() - 1]];
        pin(leader, true, &one);
        for &p in &members {
            assert_eq!(affinity(p as i32).unwrap(), one.to_vec(), "process {p} held on the CPU named");
        }
        pin(leader, true, &all);
        for &p in &members {
            assert_eq!(affinity(p as i32).unwrap(), all, "process {p} back where it could run");
        }
        crate::child::kill_group(leader);
        let _ = child.wait();
    }
}
