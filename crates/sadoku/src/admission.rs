//! Memory admission on one card: the lanes of a GPU (`--jobs`) review side by side, and two
//! reviews of problems whose tensors are gigabytes each (an element-wise op over 1.6 G floats)
//! do not fit on one card together: the second review's allocations fail, in the candidate's
//! process or in the judge's, and that failure is the judge's doing, not the candidate's.
//!
//! So each review is admitted with an estimate of what it holds on the card
//! ([`footprint`]): reviews go side by side while their estimates fit the card's memory, and a
//! review that does not fit waits until the card is free enough; one larger than the card runs
//! alone. A review that still ran out of memory while another shared the card (an estimate is
//! only an estimate) is reviewed again with the card to itself (`lanes::run`): its verdict is
//! the one it earns alone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use sadoku_core::candidate::Candidate;
use sadoku_core::problem::{Role, Sizes};

/// What a review holds on its card, as a multiple of one set of its tensors (every input and
/// output once, at the size it is timed at): the sets rotated through timing and the judge's
/// own copy of the inputs, the fp64 truth and its error scale (twice the bytes of an fp32
/// output each), the baseline's and the calibration's outputs, the candidate's own outputs and
/// temporaries, and the Model's fp64 run.
pub const FOOTPRINT_SETS: u64 = 8;

/// The share of a card's memory the admitted reviews may hold together: the rest is for CUDA
/// contexts (every worker, recorder and builder holds one) and allocators' rounding.
pub const USABLE: f64 = 0.85;

/// A review's estimated hold on its card, bytes: [`FOOTPRINT_SETS`] times its tensors at its
/// timed size (`sizes`, else the problem's own).
pub fn footprint(candidate: &Candidate, sizes: Option<&Sizes>) -> u64 {
    let problem = &candidate.problem;
    let sizes = sizes.cloned().unwrap_or_else(|| problem.timed_sizes());
    let set: u64 = problem.buffers(&sizes).iter().map(|b| b.bytes() as u64).sum();
    set.saturating_mul(FOOTPRINT_SETS)
}

/// One card's admitted reviews.
#[derive(Debug, Default)]
pub struct Admission {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Bytes the admitted reviews may hold together; unknown until a lane opens the card.
    capacity: Option<u64>,
    used: u64,
    /// The admitted reviews: each one's id and whether it has shared the card with another.
    live: Vec<(u64, Arc<AtomicBool>)>,
    next: u64,
}

/// A review's admission; it leaves the card when dropped.
#[derive(Debug)]
pub struct Ticket<'a> {
    admission: &'a Admission,
    id: u64,
    bytes: u64,
    shared: Arc<AtomicBool>,
}

impl Ticket<'_> {
    /// Whether another review was on the card at any time while this one was.
    pub fn shared(&self) -> bool {
        self.shared.load(Ordering::SeqCst)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut s = self.admission.state.lock().unwrap_or_else(|e| e.into_inner());
        s.used = s.used.saturating_sub(self.bytes);
        s.live.retain(|(id, _)| *id != self.id);
        self.admission.changed.notify_all();
    }
}

impl Admission {
    /// The card's memory, once a lane has opened it (the first call counts).
    pub fn set_memory(&self, bytes: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.capacity.is_none() && bytes > 0 {
            s.capacity = Some((bytes as f64 * USABLE) as u64);
            self.changed.notify_all();
        }
    }

    /// Admit a review holding about `bytes`: at once while the admitted reviews and this one fit
    /// the card (or the card is free), else when enough of them have left. A review larger than
    /// the card waits until it is alone. With the card's memory unknown, every review is admitted.
    pub fn admit(&self, bytes: u64) -> Ticket<'_> {
        self.enter(Some(bytes))
    }

    /// Admit a review that has the card to itself: when every other review has left, and none
    /// is admitted until it leaves.
    pub fn alone(&self) -> Ticket<'_> {
        self.enter(None)
    }

    /// Admit work holding `share` of the card's whole memory (a problem described on it), if it
    /// fits within `within`; None if it does not by then. With the card's memory unknown, at once
    /// (and counted as nothing).
    pub fn share(&self, share: f64, within: std::time::Duration) -> Option<Ticket<'_>> {
        let bytes = {
            let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.capacity.map_or(0, |c| (c as f64 / USABLE * share) as u64)
        };
        self.enter_by(Some(bytes), Some(std::time::Instant::now() + within))
    }

    fn enter(&self, bytes: Option<u64>) -> Ticket<'_> {
        self.enter_by(bytes, None).expect("no deadline: admitted in the end")
    }

    fn enter_by(&self, bytes: Option<u64>, deadline: Option<std::time::Instant>) -> Option<Ticket<'_>> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let capacity = s.capacity.unwrap_or(u64::MAX);
            let want = bytes.unwrap_or(capacity).min(capacity);
            let fits = s.live.is_empty() || (bytes.is_some() && s.used.saturating_add(want) <= capacity);
            if fits {
                let shared = Arc::new(AtomicBool::new(!s.live.is_empty()));
                for (_, other) in &s.live {
                    other.store(true, Ordering::SeqCst);
                }
                let id = s.next;
                s.next += 1;
                s.used = s.used.saturating_add(want);
                s.live.push((id, shared.clone()));
                return Some(Ticket { admission: self, id, bytes: want, shared });
            }
            s = match deadline {
                None => self.changed.wait(s).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.checked_duration_since(std::time::Instant::now())?;
                    self.changed.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner()).0
                }
            };
        }
    }

    /// How a review of `footprint` bytes compares with the card's usable memory (once a lane
    /// opened it), in words.
    pub fn estimate(&self, footprint: u64) -> String {
        let capacity = self.state.lock().unwrap_or_else(|e| e.into_inner()).capacity;
        let held = format!("its review holds about {:.0} GiB ({FOOTPRINT_SETS}× its tensors)", gib(footprint));
        match capacity {
            None => held,
            Some(c) if footprint > c => format!("{held}, more than the {:.0} GiB usable of the card", gib(c)),
            Some(c) => format!("{held} of the {:.0} GiB usable of the card", gib(c)),
        }
    }

    /// Why `candidate` cannot be reviewed on `gpu` at all, in one line, when its
    /// [`Minimum`] is more than the card's usable memory (known once a lane opened the card).
    pub fn too_small(&self, gpu: usize, candidate: &Candidate, sizes: Option<&Sizes>) -> Option<String> {
        let capacity = self.state.lock().unwrap_or_else(|e| e.into_inner()).capacity?;
        let need = Minimum::of(candidate, sizes, (capacity as f64 / USABLE) as u64);
        (need.total() > capacity).then(|| {
            let mut parts = vec![format!("the judge's buffers {:.1}", gib(need.judge))];
            if need.truth > 0 {
                parts.push(format!("the Model's process {:.1}", gib(need.truth)));
            }
            if need.candidate > 0 {
                parts.push(format!("the candidate's outputs {:.1}", gib(need.candidate)));
            }
            format!(
                "GPU {gpu} has too little memory to review `{}`: it needs at least {:.1} GiB ({}) of the {:.1} GiB \
                 usable of the card; review it on a card with more memory, or at a smaller size with --size",
                candidate.problem.name,
                gib(need.total()),
                parts.join(", "),
                gib(capacity)
            )
        })
    }
}

/// What a review needs on its card at the least, bytes, by whose it is: nothing that any
/// candidate could do without, so a review that needs more than the card's usable memory cannot
/// be judged there, however good the candidate.
///
/// Counted as the judge allocates, not less: measured on an H100 (KernelBench's
/// `5_Matrix_scalar_multiplication`, 4 GiB an input or output), the judge held 40.9 GiB (two
/// rotating sets, not one), the Model's process 24.8 GiB (its float32 call beside the float64
/// truth), and an honest candidate alone on the card then ran out and was rejected. A review
/// counted so is NOT REVIEWED before anything runs instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minimum {
    /// The judge's own at the timed size: the sets rotated through timing (as many as
    /// [`sadoku_core::time::set_count`] gives a set this large on this card, three at most),
    /// its copy of the inputs, the fp64 truth and its error scale, the baseline's outputs.
    pub judge: u64,
    /// A KernelBench Model's process: its inputs and outputs in float64 (the truth) and in
    /// their own dtypes (the baseline's call).
    pub truth: u64,
    /// A Python candidate's own outputs, in its process.
    pub candidate: u64,
}

/// A problem's tensors at one size, as [`Minimum`] counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tensors {
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub input_elements: u64,
    pub output_elements: u64,
}

impl Minimum {
    /// `memory_bytes`: the card's whole memory (what the number of sets is chosen by).
    pub fn of(candidate: &Candidate, sizes: Option<&Sizes>, memory_bytes: u64) -> Minimum {
        let problem = &candidate.problem;
        let sizes = sizes.cloned().unwrap_or_else(|| problem.timed_sizes());
        let buffers = problem.buffers(&sizes);
        let role = |r: Role| buffers.iter().filter(move |b| b.role == r);
        let bytes = |r: Role| role(r).map(|b| b.bytes() as u64).sum::<u64>();
        let elements = |r: Role| role(r).map(|b| b.elements() as u64).sum::<u64>();
        let tensors = Tensors {
            input_bytes: bytes(Role::Input),
            output_bytes: bytes(Role::Output),
            input_elements: elements(Role::Input),
            output_elements: elements(Role::Output),
        };
        Minimum::counted(tensors, problem.torch().is_some(), candidate.is_python(), memory_bytes)
    }

    /// [`Minimum::of`] from the tensors' sizes: `model`, a KernelBench problem (its Model's
    /// process holds the truth); `python`, a Python candidate (its process holds its outputs).
    pub fn counted(t: Tensors, model: bool, python: bool, memory_bytes: u64) -> Minimum {
        let set = t.input_bytes + t.output_bytes;
        // The judge's own choice (its L2 unknown here: at least three sets, as many as fit), three
        // at most: more only where the sets are small.
        let sets = sadoku_core::time::set_count(set as usize, 0, memory_bytes as usize, 3) as u64;
        let judge = sets * set + t.input_bytes + t.output_bytes + 16 * t.output_elements;
        let truth = if model { 8 * (t.input_elements + t.output_elements) + set } else { 0 };
        let candidate = if python { t.output_bytes } else { 0 };
        Minimum { judge, truth, candidate }
    }

    pub fn total(&self) -> u64 {
        self.judge + self.truth + self.candidate
    }
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// The one line a review whose judge's side ran out of memory ends with: which card, which
/// problem, its estimate against the card (`why`), what ran out (the first two sentences of what
/// was said, from the clause that says "out of memory"), and what to do.
pub fn not_reviewed(gpu: usize, problem: &str, why: &str, said: &str) -> String {
    let at = said.to_ascii_lowercase().find("out of memory").unwrap_or(0);
    let from = said[..at].rfind(['\n', ':']).map_or(0, |i| i + 1);
    let first: Vec<&str> = said[from..].lines().next().unwrap_or("").split(". ").take(2).collect();
    let first: String = first.join(". ").trim().trim_end_matches('.').chars().take(160).collect();
    format!(
        "GPU {gpu} has too little memory to review `{problem}`: {why}, and it ran out ({first}); review it on a card \
         with more memory, or at a smaller size with --size"
    )
}

/// Whether a review's failure reads as the card running out of memory (PyTorch's
/// `OutOfMemoryError`, CUDA's `out of memory` in the driver's, the runtime's or a library's words).
pub fn out_of_memory(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("out of memory") || t.contains("cuda_error_out_of_memory") || t.contains("cudaerrormemoryallocation")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const GIB: u64 = 1 << 30;

    fn card(gib: u64) -> Admission {
        let a = Admission::default();
        a.set_memory(gib * GIB);
        a
    }

    /// Runs `enter` on another thread: asserts that it waits while `holder` is on the card and
    /// is admitted once `holder` leaves; returns whether it then shared the card.
    fn waits_for(holder: Ticket<'_>, enter: impl FnOnce() -> bool + Send) -> bool {
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            s.spawn(move || tx.send(enter()).unwrap());
            assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "admitted beside the holder");
            drop(holder);
            rx.recv_timeout(Duration::from_secs(5)).expect("admitted once the holder left")
        })
    }

    #[test]
    fn small_reviews_share_the_card_and_a_large_one_waits_until_it_fits() {
        let a = card(80);
        let first = a.admit(10 * GIB);
        let second = a.admit(10 * GIB);
        assert!(first.shared() && second.shared(), "two admitted together share the card");
        // 68 GiB usable: a 60 GiB review waits while 20 GiB are held...
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let t = a.admit(60 * GIB);
                tx.send(t.shared()).unwrap();
            });
            assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "admitted beside 20 GiB");
            drop(first);
            assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "admitted beside 10 GiB");
            drop(second);
            // ...and goes once the card is free: alone, so not shared.
            assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(false));
        });
    }

    #[test]
    fn a_review_larger_than_the_card_runs_alone_and_is_never_shared() {
        let a = card(80);
        let big = a.admit(96 * GIB);
        assert!(!big.shared());
        assert!(!waits_for(big, || a.admit(GIB).shared()), "nothing beside a review larger than the card");
        let small = a.admit(GIB);
        assert!(!waits_for(small, || a.admit(96 * GIB).shared()), "and it waits for the card to be free");
    }

    #[test]
    fn alone_waits_for_every_other_review_and_holds_the_others_off() {
        let a = card(80);
        let small = a.admit(GIB);
        assert!(!waits_for(small, || a.alone().shared()));
        let alone = a.alone();
        assert!(!waits_for(alone, || a.admit(GIB).shared()), "a review beside one that has the card alone");
    }

    #[test]
    fn a_share_for_describing_is_taken_when_it_fits_and_given_up_after_its_wait() {
        let a = card(80);
        // 40 % of 80 GiB is 32 GiB: beside 30 GiB of reviews it fits the 68 usable.
        let review = a.admit(30 * GIB);
        let share = a.share(0.4, Duration::ZERO).expect("32 GiB beside 30 of 68");
        assert!(share.shared() && review.shared());
        // Another 32 GiB does not fit beside 62: not within a short wait...
        let started = std::time::Instant::now();
        assert!(a.share(0.4, Duration::from_millis(200)).is_none());
        assert!(started.elapsed() >= Duration::from_millis(200));
        // ...and does once the first share has gone within its wait.
        assert!(waits_for(share, || a.share(0.4, Duration::from_secs(5)).is_some_and(|t| t.shared())));
        // While it is held, a review that needs the rest waits.
        let held = a.share(0.4, Duration::ZERO).expect("32 GiB beside 30");
        drop(review);
        assert!(!waits_for(held, || a.admit(60 * GIB).shared()));
        // With the card's memory unknown, a share is taken at once and counted as nothing.
        let unknown = Admission::default();
        let _review = unknown.admit(1000 * GIB);
        assert!(unknown.share(0.4, Duration::ZERO).is_some());
    }

    #[test]
    fn the_minimum_counts_what_the_judge_and_the_models_process_were_measured_to_hold() {
        // KernelBench's 5_Matrix_scalar_multiplication on an H100 (81,559 MiB): 4 GiB in, 4 out.
        let card = 81_559u64 << 20;
        let t = Tensors { input_bytes: 4 * GIB, output_bytes: 4 * GIB, input_elements: GIB, output_elements: GIB };
        let need = Minimum::counted(t, true, true, card);
        // Measured: the judge 40.85 GiB, the Model's process 24.78, the candidate's outputs 4.
        assert_eq!((need.judge / GIB, need.truth / GIB, need.candidate / GIB), (40, 24, 4));
        assert!(need.total() > (card as f64 * USABLE) as u64, "more than the card's usable 67.3 GiB");
        // On an H200's 141 GiB the judge rotates three sets, and the review fits.
        let h200 = 143_771u64 << 20;
        let need = Minimum::counted(t, true, true, h200);
        assert_eq!(need.judge / GIB, 48);
        assert!(need.total() < (h200 as f64 * USABLE) as u64);
        // A native candidate of a problem with no Model: the judge's part alone.
        let native = Minimum::counted(t, false, false, card);
        assert_eq!((native.truth, native.candidate), (0, 0));
        // Small tensors: at most three sets are counted.
        let small =
            Tensors { input_bytes: 4 << 20, output_bytes: 4 << 20, input_elements: 1 << 20, output_elements: 1 << 20 };
        assert_eq!(Minimum::counted(small, false, false, card).judge, 3 * (8 << 20) + (8 << 20) + (16 << 20));
    }

    #[test]
    fn without_the_cards_memory_every_review_is_admitted() {
        let a = Admission::default();
        let one = a.admit(1000 * GIB);
        let two = a.admit(1000 * GIB);
        assert!(one.shared() && two.shared());
    }

    #[test]
    fn a_reviews_estimate_is_said_against_the_usable_card() {
        let a = Admission::default();
        assert_eq!(
            a.estimate(1000 * GIB),
            "its review holds about 1000 GiB (8× its tensors)",
            "the card not known yet"
        );
        a.set_memory(80 * GIB);
        assert_eq!(
            a.estimate(60 * GIB),
            "its review holds about 60 GiB (8× its tensors) of the 68 GiB usable of the card"
        );
        assert_eq!(
            a.estimate(96 * GIB),
            "its review holds about 96 GiB (8× its tensors), more than the 68 GiB usable of the card"
        );
    }

    #[test]
    fn the_judges_side_out_of_memory_is_said_in_one_line() {
        let said = "the Model of problem `19_ReLU` failed: `forward` faulted: OutOfMemoryError: torch.OutOfMemoryError: CUDA out of memory. Tried to \
                    allocate 12.00 GiB. GPU 0 has a total capacity of 79.18 GiB of which 9.47 GiB is free. Process 710 \
                    has 48.85 GiB memory in use.\n  File \"worker.py\", line 390";
        let line = not_reviewed(0, "19_ReLU", "its review holds about 96 GiB", said);
        assert_eq!(
            line,
            "GPU 0 has too little memory to review `19_ReLU`: its review holds about 96 GiB, and it ran out (CUDA out \
             of memory. Tried to allocate 12.00 GiB); review it on a card with more memory, or at a smaller size with \
             --size"
        );
        let judge = "allocating 12288 MiB on the GPU: CUDA_ERROR_OUT_OF_MEMORY: out of memory";
        assert!(not_reviewed(1, "22_Tanh", "why", judge).contains("ran out (out of memory)"));
    }

    #[test]
    fn out_of_memory_is_read_in_pytorchs_and_cudas_words_and_nothing_else() {
        assert!(out_of_memory("OutOfMemoryError: CUDA out of memory. Tried to allocate 12.00 GiB"));
        assert!(out_of_memory("cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY"));
        assert!(out_of_memory("cudaErrorMemoryAllocation"));
        assert!(!out_of_memory("normwise relative error 2.8e-4 exceeds 1e-5"));
        assert!(!out_of_memory("illegal memory access was encountered"));
    }
}
