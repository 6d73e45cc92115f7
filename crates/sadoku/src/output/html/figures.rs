//! The page's figures (inline SVG from `plots`): the forest plot of speedups, the timing
//! samples' distributions, the roofline and the size sweep.

use sadoku_core::time::Timing;

use super::*;

pub(super) fn forest(out: &mut String, cs: &[CandidateReport], suffix: &str) {
    out.push_str("<h3>Speedups</h3>\n");
    // Grouped by problem and baseline; within a group, by name.
    let mut rows: Vec<(String, String, String, ForestRow)> = Vec::new();
    let mut without = 0;
    for c in cs.iter().filter(|c| accepted(c)) {
        let timing = c.findings.timing.as_ref();
        let Some((t, speedup)) = timing.and_then(|t| Some((t, t.speedup.and_then(finite).filter(|s| *s > 0.0)?)))
        else {
            without += 1;
            continue;
        };
        let interval = interval(t.speedup_interval)
            .filter(|(lo, hi)| *lo > 0.0 && lo <= hi && hi.is_finite())
            .unwrap_or((speedup, speedup));
        let problem = c.problem.clone();
        let baseline = short_baseline(&t.baseline_name).to_string();
        let call = t.call.as_ref().map(word);
        rows.push((problem, baseline, label(c), ForestRow { label: label(c), speedup, interval, call }));
    }
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "<p id=\"forest{suffix}\">No accepted candidate has a speedup over a baseline: no forest plot.</p>"
        );
        return;
    }
    rows.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    // A problem timed against more than one baseline names the baseline on each row.
    let mut baselines: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (p, b, _, _) in &rows {
        let list = baselines.entry(p).or_default();
        if !list.contains(&b.as_str()) {
            list.push(b);
        }
    }
    let several: Vec<String> = baselines.iter().filter(|(_, b)| b.len() > 1).map(|(p, _)| p.to_string()).collect();
    let rows: Vec<ForestRow> = rows
        .into_iter()
        .map(|(p, b, _, mut r)| {
            if several.contains(&p) {
                r.label = format!("{} ({b})", r.label);
            }
            r
        })
        .collect();
    out.push_str(
        "<p class=\"note\">Each accepted candidate with a baseline: its speedup (the point) and 95 % interval \
         (the bar), on a log scale, grouped by problem and baseline. Green: FASTER, red: SLOWER, grey: SAME \
         (the interval holds 1×).</p>\n",
    );
    figure(out, &format!("forest{suffix}"), "forest plot of speedups", plots::forest(&rows));
    if without > 0 {
        let _ = writeln!(
            out,
            "<p class=\"note\">{without} accepted candidate(s) have no speedup (no baseline, or untimed); \
             the summary gives their % of ceiling.</p>"
        );
    }
}

pub(super) fn figure(out: &mut String, id: &str, what: &str, svg: anyhow::Result<String>) {
    match svg {
        Ok(svg) => {
            let _ = writeln!(out, "<figure id=\"{id}\" aria-label=\"{what}\">\n{svg}\n</figure>");
        }
        Err(e) => {
            let _ = writeln!(out, "<p id=\"{id}\">The {what} could not be drawn: {}</p>", esc(&format!("{e:#}")));
        }
    }
}

pub(super) fn swatch(shape: &str) -> String {
    format!("<svg width=\"14\" height=\"14\" viewBox=\"0 0 14 14\" aria-hidden=\"true\">{shape}</svg>")
}

pub(super) fn distributions(out: &mut String, cs: &[CandidateReport], suffix: &str) {
    out.push_str("<h3>Timing distributions</h3>\n");
    let timed: Vec<(&CandidateReport, &Timing)> = cs
        .iter()
        .filter_map(|c| Some((c, c.findings.timing.as_ref().filter(|t| !t.candidate_ms.is_empty())?)))
        .collect();
    let id = format!("distributions{suffix}");
    if timed.is_empty() {
        let _ = writeln!(out, "<p id=\"{id}\">No candidate was timed (or no samples were recorded).</p>");
        return;
    }
    let _ = writeln!(
        out,
        "<p class=\"note legend\">Each timed candidate's samples in the order they were taken; a baseline sample \
         was taken next to each candidate sample (interleaved). \
         <span>{} candidate</span><span>{} baseline</span><span>{} dropped: SM clock throttled (drawn after the kept samples)</span>\
         <span>{} round boundary</span></p>",
        swatch("<circle cx=\"7\" cy=\"7\" r=\"4\" fill=\"#1f77b4\"/>"),
        swatch("<circle cx=\"7\" cy=\"7\" r=\"4\" fill=\"#e67e22\"/>"),
        swatch("<path d=\"M3 3L11 11M11 3L3 11\" stroke=\"#c81e1e\" stroke-width=\"2\"/>"),
        swatch("<path d=\"M7 0V14\" stroke=\"#783ca0\" stroke-width=\"2\" stroke-dasharray=\"4 2\"/>"),
    );
    let _ = writeln!(out, "<div id=\"{id}\" class=\"grid\">");
    let mut unrecorded_throttle = Vec::new();
    for (c, t) in timed {
        let dropped = t.throttled;
        if dropped > t.throttled_ms.len() {
            unrecorded_throttle.push(format!("{} ({dropped})", label(c)));
        }
        let rounds: Vec<usize> = t.rounds.iter().map(|r| r.samples).collect();
        let rounds = if rounds.iter().sum::<usize>() == t.candidate_ms.len() { rounds } else { Vec::new() };
        let name = label(c);
        let samples = Samples {
            label: &name,
            candidate: &t.candidate_ms,
            baseline: &t.baseline_ms,
            throttled: &t.throttled_ms,
            rounds: &rounds,
        };
        match plots::distribution(&samples) {
            Ok(svg) => {
                let _ = writeln!(out, "<div>{svg}</div>");
            }
            Err(e) => {
                let _ = writeln!(out, "<div><p>{}: {}</p></div>", esc(&name), esc(&format!("{e:#}")));
            }
        }
    }
    out.push_str("</div>\n");
    if !unrecorded_throttle.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">Samples dropped at a throttled clock whose times were not recorded (older records): {}.</p>",
            esc(&unrecorded_throttle.join(", "))
        );
    }
}

/// A candidate's place on the roofline: flop/byte and TFLOP/s, or why it has none.
pub(super) fn roofline_point(c: &CandidateReport) -> Result<(f64, f64), &'static str> {
    let f = &c.findings;
    let median = f.timing.as_ref().and_then(|t| finite(t.candidate.median));
    let median_s = median.filter(|m| *m > 0.0).ok_or("no median time")? * 1e-3;
    let (flops, bytes) = match f.floors.filter(|fl| fl.flops.is_finite() && fl.bytes.is_finite()) {
        Some(floors) => (floors.flops, floors.bytes),
        None => {
            // Older records: the rate, and the bandwidth when the ceiling was DRAM's.
            let flops = f.tflops.and_then(finite).ok_or("no flop count recorded")? * 1e12 * median_s;
            let bytes = match &f.ceiling {
                Some(u) if u.unit == "GB/s" && u.achieved.is_finite() => u.achieved * 1e9 * median_s,
                _ => return Err("no byte floor recorded (an older record, judged against a TFLOP/s ceiling)"),
            };
            (flops, bytes)
        }
    };
    if flops <= 0.0 || bytes <= 0.0 {
        return Err("no flops or no bytes to place it (zero arithmetic intensity)");
    }
    Ok((flops / bytes, flops / median_s / 1e12))
}

pub(super) fn roofline(out: &mut String, run: &Run, suffix: &str) {
    out.push_str("<h3>Roofline</h3>\n");
    let id = format!("roofline{suffix}");
    if !run.has_environment {
        let _ = writeln!(
            out,
            "<p id=\"{id}\">No roofline: this file does not record the environment (JSON Lines from --out hold the \
             candidates only); the card and its measured ceilings are in <code>sadoku review --json</code> output.</p>"
        );
        return;
    }
    let Some((device, ceilings)) = run.devices.iter().find_map(|d| Some((d, d.ceilings?))) else {
        let _ = writeln!(
            out,
            "<p id=\"{id}\">No roofline: the environment has no measured ceilings (not recorded by the sadoku that made this run).</p>"
        );
        return;
    };
    let roofs: Vec<Roof> = [
        (ceilings.fp32_tflops, "fp32 SIMT"),
        (ceilings.tf32_tflops, "TF32 tensor cores"),
        (ceilings.bf16_tflops, "BF16 tensor cores"),
    ]
    .iter()
    .filter_map(|(tflops, name)| finite(*tflops).map(|t| Roof { label: name.to_string(), tflops: t }))
    .collect();
    let dram = finite(ceilings.dram_gbs);
    let mut points = Vec::new();
    let mut placed = Vec::new();
    let mut left_out = Vec::new();
    for c in run.records.iter().filter(|c| accepted(c)) {
        match roofline_point(c) {
            Ok((intensity, tflops)) => {
                points.push(RooflinePoint { number: points.len() + 1, intensity, tflops });
                placed.push(c);
            }
            Err(why) => left_out.push(format!("{}: {why}", label(c))),
        }
    }
    let gpu = if device.name.is_empty() { "the GPU" } else { &device.name };
    let _ = writeln!(
        out,
        "<p class=\"note\">{}'s measured ceilings (flat roofs) and DRAM bandwidth (the slope); each accepted candidate \
         at its arithmetic intensity (the problem's flop floor over its byte floor) and achieved rate (the flop floor \
         over its median time).{}</p>",
        esc(gpu),
        if run.devices.len() > 1 { " The run used several GPUs: these are the first one's ceilings." } else { "" }
    );
    figure(out, &id, "roofline", plots::roofline(dram, &roofs, &points));
    if !placed.is_empty() {
        out.push_str("<details><summary>The points</summary>\n<table class=\"sortable\"><thead><tr><th data-num>#</th><th>candidate</th><th data-num>flop/byte</th><th data-num>TFLOP/s</th><th data-num>% of ceiling</th></tr></thead><tbody>\n");
        for (p, c) in points.iter().zip(&placed) {
            out.push_str("<tr>");
            td(out, "n", Some(p.number as f64), None, &p.number.to_string());
            td(out, "", None, None, &esc(&label(c)));
            td(out, "n", Some(p.intensity), None, &format!("{:.3}", p.intensity));
            td(out, "n", Some(p.tflops), None, &format!("{:.3}", p.tflops));
            let percent = c.findings.ceiling.as_ref().and_then(|u| finite(u.percent));
            let what = c.findings.ceiling.as_ref().map_or("?", |u| super::tables::what(&u.what));
            td(out, "n", percent, None, &esc(&percent.map_or(NOT_RECORDED.into(), |p| format!("{p:.0} % of {what}"))));
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n</details>\n");
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"note\">Not on the roofline ({}): {}.</p>",
            left_out.len(),
            esc(&left_out.join("; "))
        );
    }
}

/// Speedup against size for candidates timed at several sizes; no section without any.
pub(super) fn sweep(out: &mut String, cs: &[CandidateReport], suffix: &str) {
    // Per problem: its candidates' cases.
    let mut problems: BTreeMap<String, Vec<&CandidateReport>> = BTreeMap::new();
    for c in cs {
        if c.findings.cases.len() > 1 {
            problems.entry(c.problem.clone()).or_default().push(c);
        }
    }
    if problems.is_empty() {
        return;
    }
    out.push_str("<h3>Size sweeps</h3>\n");
    let _ = writeln!(out, "<div id=\"sweep{suffix}\">");
    for (problem, list) in &problems {
        // The symbols whose values differ between cases: the x axis is their product.
        let mut values: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for c in list {
            for case in &c.findings.cases {
                for (k, v) in &case.sizes.0 {
                    values.entry(k.clone()).or_default().push(*v);
                }
            }
        }
        let varying: Vec<&String> =
            values.iter().filter(|(_, v)| v.iter().any(|x| *x != v[0])).map(|(k, _)| k).collect();
        let axis = if varying.is_empty() {
            "size".to_string()
        } else {
            varying.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("·")
        };
        let mut lines = Vec::new();
        let mut untimed = 0;
        for c in list {
            let mut points = Vec::new();
            for case in &c.findings.cases {
                let values: Vec<f64> = varying.iter().filter_map(|k| case.sizes.get(k)).map(|v| v as f64).collect();
                let size: f64 = values.iter().product();
                let sizes = values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("·");
                match case.timing.speedup.and_then(finite) {
                    Some(s) if size > 0.0 && s > 0.0 => {
                        let interval = interval(case.timing.speedup_interval)
                            .filter(|(lo, hi)| *lo > 0.0 && lo <= hi && hi.is_finite())
                            .unwrap_or((s, s));
                        points.push(SweepPoint { size, sizes, speedup: s, interval });
                    }
                    _ => untimed += 1,
                }
            }
            if !points.is_empty() {
                lines.push(SweepLine { label: label(c), points });
            }
        }
        let _ = writeln!(out, "<h4>{}</h4>", esc(if problem.is_empty() { "?" } else { problem }));
        if lines.is_empty() {
            let _ = writeln!(out, "<p>No speedups to plot (no baseline, or untimed cases).</p>");
            continue;
        }
        match plots::sweep(&axis, &lines) {
            Ok(svg) => {
                let _ = writeln!(out, "<figure>{svg}</figure>");
            }
            Err(e) => {
                let _ = writeln!(out, "<p>The sweep could not be drawn: {}</p>", esc(&format!("{e:#}")));
            }
        }
        if untimed > 0 {
            let _ = writeln!(out, "<p class=\"note\">{untimed} case(s) without a speedup are not drawn.</p>");
        }
    }
    out.push_str("</div>\n");
}
