//! The HTML report in a real browser: headless Chromium opens the reports made from recorded runs
//! of every earlier issue (the seed case, the adversarial and fast kernels, the problem library)
//! and must render them with no console errors, the page's script having run, and its plots
//! there. CI installs Debian's Chromium (`.ci/run`) and sets SADOKU_REQUIRE_BROWSER=1; elsewhere
//! the test says it was skipped when no browser is found.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The browser: $SADOKU_BROWSER, else chromium or chromium-browser on the PATH.
fn browser() -> Option<PathBuf> {
    if let Some(b) = std::env::var_os("SADOKU_BROWSER") {
        return Some(PathBuf::from(b));
    }
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
    })
}

/// Chromium, headless, on a local file: (DOM after scripts ran, browser log).
fn render(chromium: &Path, page: &Path, extra: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .args(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("the browser starts");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Recorded runs of earlier issues, and the plots each report must have.
const RUNS: [(&str, &[&str]); 6] = [
    // The seed case (issue 1's job), with its environment: roofline and distributions.
    ("results/2026-11-30-h200-dtypes/run7-seed.json", &["forest", "distributions", "roofline"]),
    // Every example: seed, adversarial, fast kernels, all 33 problems (issues 2-10).
    ("results/2026-11-30-h200-dtypes/run7-batch.json.gz", &["forest", "distributions", "roofline", "sweep"]),
    // The same run as JSON Lines: no environment, so no roofline.
    ("results/2026-11-30-h200-dtypes/run7-batch.jsonl.gz", &["forest", "distributions"]),
    // Issue 3's adversarial batch and issue 4's examples, in the formats of their day.
    ("results/2026-11-28-h200-issue3/batch.json", &["forest", "distributions"]),
    ("results/2026-11-28-h200-issue4/run1-batch.json", &["forest", "distributions"]),
    // Issue 5's fast kernels (register blocking, 3×TF32) at N = 4096.
    ("results/2026-11-28-h200-issue5/run2/fp32-N4096.json", &["forest", "distributions"]),
];

#[test]
fn reports_of_recorded_runs_render_in_headless_chromium() {
    let Some(chromium) = browser() else {
        assert!(
            std::env::var_os("SADOKU_REQUIRE_BROWSER").is_none(),
            "SADOKU_REQUIRE_BROWSER is set but no Chromium was found (set SADOKU_BROWSER)"
        );
        eprintln!("skipped: no Chromium on this machine (CI installs it; SADOKU_BROWSER names one)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (i, (run, plots)) in RUNS.iter().enumerate() {
        let page = dir.path().join(format!("report-{i}.html"));
        let status = assert_cmd::Command::cargo_bin("sadoku")
            .unwrap()
            .current_dir(repo())
            .args(["report", run, "-o"])
            .arg(&page)
            .output()
            .unwrap();
        assert!(status.status.success(), "{run}: {}", String::from_utf8_lossy(&status.stderr));
        let (dom, log) = render(&chromium, &page, &["--dump-dom"]);
        assert!(dom.contains("data-ready=\"1\""), "{run}: the page's script did not finish\n{log}");
        for id in *plots {
            let at = dom.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("{run}: no #{id} in the page"));
            assert!(dom[at..].contains("<svg"), "{run}: #{id} holds no SVG");
        }
        let errors: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("Refused to"))
            .collect();
        assert!(errors.is_empty(), "{run}: the browser logged:\n{}", errors.join("\n"));
    }
    // The README's screenshot is of the first report; refresh it with SADOKU_SCREENSHOT=path.
    if let Some(shot) = std::env::var_os("SADOKU_SCREENSHOT") {
        let page = dir.path().join("report-0.html");
        let (_, log) = render(
            &chromium,
            &page,
            &["--window-size=1280,1800", &format!("--screenshot={}", Path::new(&shot).display())],
        );
        assert!(Path::new(&shot).is_file(), "no screenshot written\n{log}");
    }
}
