//! Progress on a terminal: a spinner line per phase, a line per verdict. Quiet when stderr is
//! not a terminal, apart from the verdict lines.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sadoku_core::events::{Event, Observer};
use sadoku_core::verdict::Verdict;
use std::io::IsTerminal;
use std::sync::Mutex;

pub struct Progress {
    bar: ProgressBar,
    tty: bool,
    current: Mutex<String>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    pub fn new() -> Progress {
        let tty = std::io::stderr().is_terminal();
        let bar = ProgressBar::with_draw_target(
            None,
            if tty { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() },
        );
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
        if tty {
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
        }
        Progress { bar, tty, current: Mutex::new(String::new()) }
    }

    /// Lines only, no spinner: for work beside a run's own progress (describing problems).
    pub fn lines_only() -> Progress {
        Progress { bar: ProgressBar::hidden(), tty: false, current: Mutex::new(String::new()) }
    }

    pub fn line(&self, text: &str) {
        if self.tty { self.bar.println(text) } else { eprintln!("{text}") }
    }

    fn current(&self) -> String {
        self.current.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for Progress {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Candidate { index, total, name } => {
                let text = format!("[{}/{}] {name}", index + 1, total);
                self.bar.set_message(text.clone());
                *self.current.lock().unwrap_or_else(|e| e.into_inner()) = text;
            }
            Event::Stage { name } => self.bar.set_message(format!("{}: {name}", self.current())),
            // A size drawn at run time comes without its values: it is not shown before the verdict.
            Event::Trial { sizes, trial } if sizes.0.is_empty() => {
                self.bar.set_message(format!("{}: verifying at a size drawn at run time, {trial}", self.current()))
            }
            Event::Trial { sizes, trial } => {
                self.bar.set_message(format!("{}: verifying at {sizes}, {trial}", self.current()))
            }
            Event::Sample { samples, noise, elapsed, budget } => self.bar.set_message(format!(
                "{}: timing, {samples} samples, noise {:.2} %, {:.1}/{:.0} s",
                self.current(),
                noise * 100.0,
                elapsed.as_secs_f64(),
                budget.as_secs_f64()
            )),
            Event::Verdict { name, verdict } => self.line(&match verdict {
                Verdict::Accepted { class } => format!("  ACCEPTED  {name} ({class})"),
                Verdict::Rejected(r) => format!("  REJECTED  {name}: {}", r.reason()),
            }),
        }
    }
}
