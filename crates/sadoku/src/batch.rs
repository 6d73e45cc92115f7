//! The candidates of one batch and what its lanes and builders share: the queue (a batch may be
//! fed while it is reviewed, as a server's is), whether to stop, and the extensions being built
//! ahead of their reviews (see `lanes::build`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use sadoku_core::candidate::Candidate;

use crate::backend::{Cache, Recorder};

/// The candidates of one batch, as they come (a batch may be fed while it is reviewed), and what
/// its lanes and builders share: the queue, whether to stop, the extensions being built.
#[derive(Default)]
pub struct Batch {
    state: Mutex<Queue>,
    changed: Condvar,
    stop: AtomicBool,
    /// Candidates in a row that the environment kept from a verdict.
    pub(crate) failures_in_a_row: AtomicUsize,
    /// How many candidates the batch will hold, as far as known when it started (for progress).
    pub expected: AtomicUsize,
    /// A Python candidate has come (a server's idle lanes and builders then keep Python workers
    /// started).
    python_seen: AtomicBool,
    /// A recording worker started while the builders waited, for whichever takes the next build
    /// (see `lanes::build`).
    recorder: Mutex<Option<Recorder>>,
}

#[derive(Default)]
struct Queue {
    /// Every candidate by its index; None once released (a server's, after its outcome).
    candidates: Vec<Option<Arc<Candidate>>>,
    /// Not yet handed to a lane.
    waiting: VecDeque<usize>,
    /// No more candidates will come.
    closed: bool,
    /// Python candidates whose extensions are to be built ahead of their review, in order.
    to_build: VecDeque<usize>,
    builds: HashMap<usize, Build>,
    /// Builders that will take builds (registered before they start, gone when they end), and
    /// how many of them are building now: one that is not will take the next build at once.
    builders: usize,
    building: usize,
    /// Lanes taking candidates now, and whether any has started (see [`Batch::lane`]).
    lanes: usize,
    lanes_started: bool,
}

/// What a lane waiting for a candidate got (see [`Batch::next_waking`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waited {
    Candidate(usize),
    /// No more will come, or the batch stopped.
    Done,
    /// A Python candidate came into the batch, and another lane took it.
    PythonCame,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Build {
    Waiting,
    Building,
    /// A builder finished: where the review finds the candidate's extensions (`None`: it builds
    /// them itself).
    Built(Option<Cache>),
    /// Left to the review's own load (no builder took it in time).
    Unbuilt,
}

impl Batch {
    /// A batch of `candidates`, all known now.
    pub fn of(candidates: Vec<Arc<Candidate>>) -> Batch {
        let batch = Batch::default();
        batch.expected.store(candidates.len(), Ordering::SeqCst);
        for c in candidates {
            batch.push(c, false);
        }
        batch.close();
        batch
    }

    /// Add a candidate (its index returned); `build`: its extensions are built ahead of its review.
    pub fn push(&self, candidate: Arc<Candidate>, build: bool) -> usize {
        if candidate.is_python() {
            self.python_seen.store(true, Ordering::SeqCst);
        }
        let mut q = self.lock();
        let index = q.candidates.len();
        q.candidates.push(Some(candidate));
        q.waiting.push_back(index);
        if build {
            q.to_build.push_back(index);
            q.builds.insert(index, Build::Waiting);
        }
        drop(q);
        self.changed.notify_all();
        index
    }

    /// Whether a Python candidate has come.
    pub(crate) fn python_seen(&self) -> bool {
        self.python_seen.load(Ordering::SeqCst)
    }

    /// Have a recording worker started for the next build unless one is: `start` is called with
    /// the batch's slot held, so that a builder taking the next build meanwhile waits for it.
    pub(crate) fn keep_recorder(&self, start: impl FnOnce() -> Option<Recorder>) {
        let mut slot = self.recorder.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = start();
        }
    }

    /// The recording worker started for the next build, if one is.
    pub(crate) fn take_recorder(&self) -> Option<Recorder> {
        self.recorder.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// No more candidates will come.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    pub fn candidate(&self, index: usize) -> Arc<Candidate> {
        Arc::clone(self.lock().candidates[index].as_ref().expect("a released candidate is never asked for again"))
    }

    /// Forget candidate `index` (its outcome is delivered and nothing asks for it again): a
    /// server's batch never ends, and must not keep every source it was sent.
    pub fn release(&self, index: usize) {
        if let Some(c) = self.lock().candidates.get_mut(index) {
            *c = None;
        }
    }

    /// How many candidates have come so far.
    pub(crate) fn len(&self) -> usize {
        self.lock().candidates.len()
    }

    /// Stop handing out candidates and builds.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.changed.notify_all();
    }

    /// Whether the batch stopped before every candidate was handed to a lane.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next candidate for a lane, waiting for one to come; [`Waited::Done`] once none will
    /// (closed and empty, or stopped). With `on_python`, a lane waiting also wakes once a Python
    /// candidate has come into the batch (taken by another lane), to start a Python worker of its
    /// own while it waits.
    pub(crate) fn next_waking(&self, on_python: bool) -> Waited {
        let mut q = self.lock();
        loop {
            if self.stopped() {
                return Waited::Done;
            }
            if let Some(i) = q.waiting.pop_front() {
                drop(q);
                // A producer waiting for room (`wait_for_room`) may feed the next.
                self.changed.notify_all();
                return Waited::Candidate(i);
            }
            if q.closed {
                return Waited::Done;
            }
            if on_python && self.python_seen() {
                return Waited::PythonCame;
            }
            q = self.changed.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Whether the lane is about to wait: no candidate waits now, and more may come.
    pub(crate) fn try_peek_empty(&self) -> bool {
        let q = self.lock();
        !self.stopped() && !q.closed && q.waiting.is_empty()
    }

    /// The next candidate for a lane if one is waiting now (a lane taking one ahead).
    pub(crate) fn try_next(&self) -> Option<usize> {
        if self.stopped() {
            return None;
        }
        let next = self.lock().waiting.pop_front();
        if next.is_some() {
            self.changed.notify_all();
        }
        next
    }

    /// A lane that takes candidates from this batch, counted until the guard is dropped (however
    /// the lane ends): a producer waiting for room stops waiting once every lane has ended.
    pub fn lane(&self) -> LaneGuard<'_> {
        let mut q = self.lock();
        q.lanes += 1;
        q.lanes_started = true;
        LaneGuard(self)
    }

    /// A producer's wait before it feeds the next candidate: until fewer than `ahead` wait for a
    /// lane (builds ahead included), the batch stops, or every lane has ended. What comes next
    /// may need work of its own before it can be queued (a KernelBench problem described), which
    /// is then done when its turn nears, not all at the start.
    pub fn wait_for_room(&self, ahead: usize) {
        let mut q = self.lock();
        while !self.stopped() && q.waiting.len() >= ahead.max(1) && !(q.lanes_started && q.lanes == 0) {
            q = self.changed.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// `n` builders will run [`build`] on this batch: a review then waits for a build no builder
    /// has taken yet while one of them is free to take it. Call it before the lanes start.
    pub fn add_builders(&self, n: usize) {
        self.lock().builders += n;
    }

    /// The next extension for a builder, in review order; None once no more can come (the
    /// builder then ends, and is counted out).
    pub fn next_build(&self) -> Option<usize> {
        let mut q = self.lock();
        loop {
            if let Some(i) = self.take_build(&mut q) {
                return Some(i);
            }
            if q.closed || self.stopped() {
                q.builders = q.builders.saturating_sub(1);
                drop(q);
                self.changed.notify_all();
                return None;
            }
            q = self.changed.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The first build still waiting, in review order, marked as building; none once stopped.
    fn take_build(&self, q: &mut Queue) -> Option<usize> {
        if self.stopped() {
            return None;
        }
        while let Some(i) = q.to_build.pop_front() {
            if q.builds.get(&i) == Some(&Build::Waiting) {
                q.builds.insert(i, Build::Building);
                q.building += 1;
                return Some(i);
            }
        }
        None
    }

    /// A builder finished with candidate `index`'s extensions (where they are; `None`: not
    /// built), and takes the next build waiting, if one is (else it waits for one with
    /// [`Batch::next_build`]). The next is taken in the same step: a lane woken by this build
    /// takes its next candidate ahead at once, and would otherwise find that candidate's build
    /// not yet started and leave it to its review.
    pub fn built_then_next(&self, index: usize, cache: Option<Cache>) -> Option<usize> {
        let mut q = self.lock();
        q.builds.insert(index, Build::Built(cache));
        q.building = q.building.saturating_sub(1);
        let next = self.take_build(&mut q);
        drop(q);
        self.changed.notify_all();
        next
    }

    /// Whether candidate `index`'s extensions are being built ahead, or wait for a builder.
    pub(crate) fn build_pending(&self, index: usize) -> bool {
        matches!(self.lock().builds.get(&index), Some(Build::Waiting | Build::Building))
    }

    /// Where candidate `index`'s extensions were built ahead of its review, if they were.
    pub(crate) fn prebuilt(&self, index: usize) -> Option<Cache> {
        match self.lock().builds.get(&index) {
            Some(Build::Built(cache)) => *cache,
            _ => None,
        }
    }

    /// Before a candidate's review: wait for a build of its extensions under way, or about to be
    /// (a builder is free: it takes builds in review order, this one next); one that no builder
    /// is free to take is left to the review's own load, in parallel with the builds under way.
    /// `ahead`: its worker is started ahead of its review (`SADOKU_AHEAD_WORKERS`), which has not
    /// begun: it waits for a builder to take it as long as there are builders (they take builds
    /// in review order, and end only once none waits), rather than leave it to a private build
    /// in its review that would keep it out of the store and compete with the builders for cores.
    pub(crate) fn await_build(&self, index: usize, ahead: bool) {
        let mut q = self.lock();
        loop {
            match q.builds.get(&index).copied() {
                Some(Build::Waiting) if (q.builders > q.building || (ahead && q.builders > 0)) && !self.stopped() => {
                    q = self.changed.wait(q).unwrap_or_else(|e| e.into_inner());
                }
                Some(Build::Waiting) => {
                    q.builds.insert(index, Build::Unbuilt);
                    return;
                }
                Some(Build::Building) if !self.stopped() => {
                    q = self.changed.wait(q).unwrap_or_else(|e| e.into_inner());
                }
                _ => return,
            }
        }
    }
}

/// A lane of a batch, counted while it lives (see [`Batch::lane`]).
pub struct LaneGuard<'a>(&'a Batch);

impl Drop for LaneGuard<'_> {
    fn drop(&mut self) {
        self.0.lock().lanes -= 1;
        self.0.changed.notify_all();
    }
}

/// Closes its batch when dropped: the producer's guard, so that no lane waits on a batch whose
/// feed has ended, however it ended.
pub struct CloseOnDrop<'a>(pub &'a Batch);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn batch_of_two(builders: usize) -> Batch {
        let registry = sadoku_core::problem::Registry::library();
        let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/seed/fix_16x16.cu"))
            .expect("the seed fix");
        let candidate = Arc::new(Candidate::from_source(&registry, "a.cu", source).expect("a valid candidate"));
        let batch = Batch::default();
        batch.add_builders(builders);
        batch.push(Arc::clone(&candidate), true);
        batch.push(candidate, true);
        batch.close();
        batch
    }

    /// A review that reaches a build no builder has taken yet waits for it while a builder is
    /// free: the builder takes builds in review order, this one next (before, a lane that came
    /// first built it itself, privately, and the store went unused).
    #[test]
    fn a_review_waits_for_a_build_a_free_builder_is_about_to_take() {
        let batch = batch_of_two(1);
        std::thread::scope(|scope| {
            let review = scope.spawn(|| {
                batch.await_build(0, false);
                batch.prebuilt(0)
            });
            std::thread::sleep(Duration::from_millis(200));
            assert!(!review.is_finished(), "the review left the build to itself");
            assert_eq!(batch.next_build(), Some(0));
            // Done, and the next taken in the same step.
            assert_eq!(batch.built_then_next(0, Some(Cache::Store)), Some(1));
            assert_eq!(review.join().unwrap(), Some(Cache::Store));
        });
    }

    /// A lane waiting for a candidate wakes when another lane takes the batch's first Python
    /// candidate (to start a Python worker of its own), and only when asked to.
    #[test]
    fn a_waiting_lane_wakes_when_the_first_python_candidate_comes() {
        let batch = Batch::default();
        std::thread::scope(|scope| {
            let asked = scope.spawn(|| batch.next_waking(true));
            std::thread::sleep(Duration::from_millis(100));
            assert!(!asked.is_finished(), "woke with nothing come");
            // As `push` of a Python candidate that another lane took at once.
            batch.python_seen.store(true, Ordering::SeqCst);
            batch.changed.notify_all();
            assert_eq!(asked.join().unwrap(), Waited::PythonCame);
            let not_asked = scope.spawn(|| batch.next_waking(false));
            std::thread::sleep(Duration::from_millis(100));
            assert!(!not_asked.is_finished(), "a lane not asked to wake waits on");
            batch.close();
            assert_eq!(not_asked.join().unwrap(), Waited::Done);
        });
    }

    /// The producer feeds a batch only as far ahead of its lanes as it is told: each candidate it
    /// waits to feed may first need its problem described, which is then done near its turn.
    #[test]
    fn a_producer_feeds_only_as_far_ahead_as_the_lanes_need() {
        let registry = sadoku_core::problem::Registry::library();
        let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/seed/fix_16x16.cu"))
            .expect("the seed fix");
        let candidate = Arc::new(Candidate::from_source(&registry, "a.cu", source).expect("a valid candidate"));
        let batch = Batch::default();
        let fed = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            let producer = scope.spawn(|| {
                for _ in 0..5 {
                    batch.wait_for_room(2);
                    batch.push(Arc::clone(&candidate), false);
                    fed.fetch_add(1, Ordering::SeqCst);
                }
                batch.close();
            });
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(fed.load(Ordering::SeqCst), 2, "two ahead, no lane has taken one");
            let lane = batch.lane();
            assert_eq!(batch.next_waking(false), Waited::Candidate(0));
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(fed.load(Ordering::SeqCst), 3, "one taken, one more fed");
            // Every lane ended: the producer waits for nothing.
            drop(lane);
            producer.join().unwrap();
            assert_eq!(fed.load(Ordering::SeqCst), 5);
        });
        let stopped = Batch::default();
        stopped.push(Arc::clone(&candidate), false);
        stopped.stop();
        stopped.wait_for_room(1);
    }

    /// With every builder busy (or none), a build not yet taken is left to the review, which
    /// then builds in parallel with the builds under way.
    #[test]
    fn a_build_no_builder_is_free_to_take_is_left_to_its_review() {
        let batch = batch_of_two(1);
        assert_eq!(batch.next_build(), Some(0));
        batch.await_build(1, false);
        assert_eq!(batch.prebuilt(1), None);
        assert_eq!(batch.built_then_next(0, Some(Cache::Store)), None, "candidate 1 is its review's now");
        let none = batch_of_two(0);
        none.await_build(0, false);
        assert_eq!(none.prebuilt(0), None);
        none.await_build(1, true);
        assert_eq!(none.prebuilt(1), None, "no builder: even a worker started ahead leaves it to its review");
    }

    /// A worker started ahead of its review (several per lane) waits for its candidate's build
    /// while every builder is busy: the builder that frees first takes it (in review order), and
    /// it is loaded from the store. Leaving it to its review, as a review of its own does, would
    /// build it privately, out of the store, while the builders run.
    #[test]
    fn a_worker_started_ahead_waits_for_a_build_every_builder_is_too_busy_to_take_yet() {
        let batch = batch_of_two(1);
        assert_eq!(batch.next_build(), Some(0));
        std::thread::scope(|scope| {
            let ahead = scope.spawn(|| {
                batch.await_build(1, true);
                batch.prebuilt(1)
            });
            std::thread::sleep(Duration::from_millis(200));
            assert!(!ahead.is_finished(), "left to its review while the builder was busy");
            assert_eq!(batch.built_then_next(0, Some(Cache::Store)), Some(1), "taken next");
            std::thread::sleep(Duration::from_millis(100));
            assert!(!ahead.is_finished(), "it waits for the build itself");
            assert_eq!(batch.built_then_next(1, Some(Cache::Store)), None);
            assert_eq!(ahead.join().unwrap(), Some(Cache::Store));
        });
    }
}
