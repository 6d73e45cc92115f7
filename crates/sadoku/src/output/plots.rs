//! The HTML report's plots, drawn by plotters' SVG backend: axes, ticks, labels and legends are
//! plotters'. Plotters is built without font support (no `ttf`, no `ab_glyph`): it estimates text
//! extents itself and writes text as SVG `<text>`, which the browser lays out in its own
//! sans-serif, so no font file is read or shipped.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;

/// The colours the report uses, also in its CSS legends.
pub const BLUE: RGBColor = RGBColor(31, 119, 180);
pub const ORANGE: RGBColor = RGBColor(230, 126, 34);
pub const RED: RGBColor = RGBColor(200, 30, 30);
pub const GREEN: RGBColor = RGBColor(30, 140, 60);
pub const GREY: RGBColor = RGBColor(120, 120, 120);
pub const PURPLE: RGBColor = RGBColor(120, 60, 160);

const FONT: &str = "sans-serif";

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting failed: {e:?}")
}

/// Draw into a fresh SVG document of `size` pixels.
fn svg(size: (u32, u32), draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// The series' legend, in the report's one style, at `at`.
fn legend<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    at: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.9))
        .border_style(GREY)
        .label_font((FONT, 15))
        .draw()
        .map_err(err)
}

/// An axis range in log space, padded by `pad` (a factor) on each side; `always` is kept inside.
fn log_range(values: impl Iterator<Item = f64>, always: &[f64], pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.chain(always.iter().copied()).filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.1, 10.0);
    }
    if hi / lo < 1.5 {
        return (lo / 1.5, hi * 1.5);
    }
    (lo / pad, hi * pad)
}

/// Tick values for a log axis from `lo` to `hi`: 1, 2, 5 (or denser, or sparser) times powers of
/// ten, at least four of them where the range allows. Plotters' own log ticks are powers of the
/// base and skip any range within one decade.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let steps: [&[f64]; 5] = [
        &[1.0],
        &[1.0, 3.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        &[
            1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.2, 2.4, 2.6, 2.8, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0,
            7.0, 8.0, 9.0,
        ],
    ];
    let mut best = Vec::new();
    for mantissas in steps {
        let mut ticks = Vec::new();
        let mut decade = 10f64.powf(lo.log10().floor());
        while decade <= hi {
            for m in mantissas {
                let t = m * decade;
                if t >= lo && t <= hi {
                    ticks.push(t);
                }
            }
            decade *= 10.0;
        }
        if ticks.len() > 14 && !best.is_empty() {
            break;
        }
        best = ticks;
        if best.len() >= 4 {
            break;
        }
    }
    best
}

/// Width of a label area for labels of `chars` characters at plotters' text size 13.
fn label_width(chars: usize) -> u32 {
    (chars as u32 * 7 + 16).clamp(40, 460)
}

/// A label shortened in the middle to what a plot can hold.
pub fn fit(label: &str, max: usize) -> String {
    crate::output::table::shorten_middle(label, max)
}

pub struct ForestRow {
    pub label: String,
    pub speedup: f64,
    pub interval: (f64, f64),
    /// FASTER, SLOWER, SAME, or none recorded.
    pub call: Option<String>,
}

/// A forest plot: one row per candidate (top to bottom in the order given), its speedup and 95 %
/// interval on a log axis, a line at 1×.
pub fn forest(rows: &[ForestRow]) -> Result<String> {
    let n = rows.len() as i32;
    let labels: Vec<String> = rows.iter().map(|r| fit(&r.label, 56)).collect();
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(10);
    let (lo, hi) = log_range(rows.iter().flat_map(|r| [r.interval.0, r.interval.1, r.speedup]), &[1.0], 1.25);
    let height = 100 + 22 * n.max(1) as u32;
    svg((960, height), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(label_width(width))
            .build_cartesian_2d((lo..hi).log_scale().with_key_points(log_ticks(lo, hi)), -1..n)
            .map_err(err)?;
        let label_of = |y: &i32| if (0..n).contains(y) { labels[(n - 1 - y) as usize].clone() } else { String::new() };
        chart
            .configure_mesh()
            .y_labels(n as usize + 2)
            .y_label_formatter(&label_of)
            .x_label_formatter(&|x| format!("{}×", trim_number(*x)))
            .x_desc("speedup over the baseline (log scale; 95 % interval)")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .disable_y_mesh()
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(err)?;
        chart.draw_series(LineSeries::new([(1.0, -1), (1.0, n)], GREY.stroke_width(1))).map_err(err)?;
        for (i, r) in rows.iter().enumerate() {
            let y = n - 1 - i as i32;
            let colour = match r.call.as_deref() {
                Some("FASTER") => GREEN,
                Some("SLOWER") => RED,
                _ => GREY,
            };
            chart
                .draw_series([ErrorBar::new_horizontal(
                    y,
                    r.interval.0,
                    r.speedup,
                    r.interval.1,
                    colour.stroke_width(2),
                    8,
                )])
                .map_err(err)?;
            chart.draw_series([Circle::new((r.speedup, y), 4, colour.filled())]).map_err(err)?;
        }
        Ok(())
    })
}

/// A size: 4096, 2.1e10.
fn format_size(x: f64) -> String {
    if x < 1e7 { format!("{x:.0}") } else { format!("{x:.2e}") }
}

/// `x` without trailing zeros: 0.5, 2, 150.
fn trim_number(x: f64) -> String {
    let s = if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    };
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

pub struct Samples<'a> {
    pub label: &'a str,
    pub candidate: &'a [f64],
    pub baseline: &'a [f64],
    /// Candidate samples dropped because the SM clock was throttled.
    pub throttled: &'a [f64],
    /// How many samples each round kept, when they add up to the candidate's.
    pub rounds: &'a [usize],
}

/// One candidate's timing samples in the order they were taken (each baseline sample next to the
/// candidate sample it was interleaved with), round boundaries as vertical lines, throttled
/// samples after the kept ones, as red crosses.
pub fn distribution(s: &Samples) -> Result<String> {
    let kept = s.candidate.len().max(s.baseline.len());
    let xmax = (kept + if s.throttled.is_empty() { 0 } else { s.throttled.len() + 2 }) as f64;
    let all = s.candidate.iter().chain(s.baseline).chain(s.throttled).copied().filter(|v| v.is_finite());
    let (mut lo, mut hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.002).max(1e-6);
    let (lo, hi) = ((lo - pad).max(0.0), hi + pad);
    svg((440, 230), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .caption(fit(s.label, 60), (FONT, 15))
            .x_label_area_size(34)
            .y_label_area_size(58)
            .build_cartesian_2d(-1.0..xmax + 1.0, lo..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("sample, in the order taken")
            .y_desc("ms")
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format_ms(*y, hi - lo))
            .label_style((FONT, 13))
            .axis_desc_style((FONT, 13))
            .bold_line_style(RGBColor(225, 225, 225))
            .light_line_style(RGBColor(245, 245, 245))
            .draw()
            .map_err(err)?;
        let mut at = 0usize;
        for r in s.rounds.iter().take(s.rounds.len().saturating_sub(1)) {
            at += r;
            let x = at as f64 - 0.5;
            chart.draw_series(DashedLineSeries::new([(x, lo), (x, hi)], 5, 3, PURPLE.stroke_width(2))).map_err(err)?;
        }
        let dots = |v: &[f64], colour: RGBColor| -> Vec<Circle<(f64, f64), u32>> {
            v.iter().enumerate().map(|(i, &y)| Circle::new((i as f64, y), 2, colour.filled())).collect()
        };
        chart.draw_series(dots(s.baseline, ORANGE)).map_err(err)?;
        chart.draw_series(dots(s.candidate, BLUE)).map_err(err)?;
        chart
            .draw_series(
                s.throttled
                    .iter()
                    .enumerate()
                    .map(|(i, &y)| Cross::new(((kept + 2 + i) as f64, y), 4, RED.stroke_width(2))),
            )
            .map_err(err)?;
        Ok(())
    })
}

/// A time on an axis spanning `span` ms, with enough digits to tell ticks apart.
fn format_ms(v: f64, span: f64) -> String {
    let digits = if span > 0.0 { (2.0 - span.log10().floor()).clamp(0.0, 6.0) as usize } else { 3 };
    format!("{v:.digits$}")
}

pub struct Roof {
    pub label: String,
    pub tflops: f64,
}

pub struct RooflinePoint {
    pub number: usize,
    pub intensity: f64,
    pub tflops: f64,
}

/// A roofline: log-log, flop/byte against TFLOP/s; the DRAM slope (GB/s) up to the highest
/// roof, each flat roof from where the slope meets it; each candidate a numbered point.
pub fn roofline(dram_gbs: Option<f64>, roofs: &[Roof], points: &[RooflinePoint]) -> Result<String> {
    let (xlo, xhi) = log_range(points.iter().map(|p| p.intensity), &[0.05, 2000.0], 2.0);
    let top = roofs.iter().map(|r| r.tflops).fold(0.0, f64::max);
    let (ylo, yhi) = log_range(points.iter().map(|p| p.tflops), &[0.01, top.max(1.0)], 2.0);
    svg((960, 560), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (xlo..xhi).log_scale().with_key_points(log_ticks(xlo, xhi)),
                (ylo..yhi).log_scale().with_key_points(log_ticks(ylo, yhi)),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("arithmetic intensity (flop/byte, from the problem's floors; log scale)")
            .y_desc("TFLOP/s (log scale)")
            .x_label_formatter(&|x| trim_number(*x))
            .y_label_formatter(&|y| trim_number(*y))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(err)?;
        let palette = [BLUE, GREEN, RGBColor(148, 103, 189)];
        if let Some(bw) = dram_gbs.filter(|b| *b > 0.0) {
            // GB/s × flop/byte = GFLOP/s.
            let slope = bw / 1000.0;
            let end = if top > 0.0 { top / slope } else { xhi };
            chart
                .draw_series(LineSeries::new([(xlo, xlo * slope), (end.min(xhi), end.min(xhi) * slope)], &BLACK))
                .map_err(err)?
                .label(format!("DRAM {bw:.0} GB/s"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], BLACK));
        }
        for (i, roof) in roofs.iter().enumerate() {
            let colour = palette[i % palette.len()];
            let start = dram_gbs.filter(|b| *b > 0.0).map_or(xlo, |bw| (roof.tflops / (bw / 1000.0)).max(xlo));
            chart
                .draw_series(LineSeries::new([(start, roof.tflops), (xhi, roof.tflops)], colour.stroke_width(2)))
                .map_err(err)?
                .label(format!("{} {:.1} TFLOP/s", roof.label, roof.tflops))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        }
        chart
            .draw_series(points.iter().map(|p| Circle::new((p.intensity, p.tflops), 4, ORANGE.filled())))
            .map_err(err)?
            .label("accepted candidate (numbered as in the table below)")
            .legend(|(x, y)| Circle::new((x + 9, y), 4, ORANGE.filled()));
        chart
            .draw_series(points.iter().map(|p| {
                Text::new(p.number.to_string(), (p.intensity, p.tflops), (FONT, 12).into_font().color(&BLACK))
            }))
            .map_err(err)?;
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    })
}

/// The sizes measured, when few enough to label each; else log ticks.
fn sweep_ticks(sizes: &[f64], lo: f64, hi: f64) -> Vec<f64> {
    if sizes.len() <= 8 { sizes.to_vec() } else { log_ticks(lo, hi) }
}

pub struct SweepPoint {
    /// The product of the varying sizes, the x coordinate.
    pub size: f64,
    /// The sizes themselves, for the tick: "4096·4096·4096".
    pub sizes: String,
    pub speedup: f64,
    pub interval: (f64, f64),
}

pub struct SweepLine {
    pub label: String,
    pub points: Vec<SweepPoint>,
}

/// Speedup against size, one line per candidate, each point with its 95 % interval; a line at 1×.
pub fn sweep(axis: &str, lines: &[SweepLine]) -> Result<String> {
    let all = || lines.iter().flat_map(|l| &l.points);
    let (xlo, xhi) = log_range(all().map(|p| p.size), &[], 1.3);
    let mut sizes: Vec<f64> = all().map(|p| p.size).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    let (ylo, yhi) = log_range(all().flat_map(|p| [p.interval.0, p.interval.1, p.speedup]), &[1.0], 1.2);
    svg((960, 420), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(
                (xlo..xhi).log_scale().with_key_points(sweep_ticks(&sizes, xlo, xhi)),
                (ylo..yhi).log_scale().with_key_points(log_ticks(ylo, yhi)),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(format!("{axis} (log scale)"))
            .y_desc("speedup (×, log scale; 95 % interval)")
            .x_label_formatter(&|x| {
                all().find(|p| (p.size - x).abs() <= p.size * 1e-9).map_or_else(|| format_size(*x), |p| p.sizes.clone())
            })
            .y_label_formatter(&|y| format!("{}×", trim_number(*y)))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(err)?;
        chart.draw_series(LineSeries::new([(xlo, 1.0), (xhi, 1.0)], GREY)).map_err(err)?;
        for (i, line) in lines.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            let mut points: Vec<&SweepPoint> = line.points.iter().collect();
            points.sort_by(|a, b| a.size.total_cmp(&b.size));
            chart
                .draw_series(LineSeries::new(points.iter().map(|p| (p.size, p.speedup)), colour.stroke_width(2)))
                .map_err(err)?
                .label(fit(&line.label, 60))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
            chart
                .draw_series(points.iter().map(|p| {
                    ErrorBar::new_vertical(p.size, p.interval.0, p.speedup, p.interval.1, colour.stroke_width(2), 8)
                }))
                .map_err(err)?;
            chart
                .draw_series(points.iter().map(|p| Circle::new((p.size, p.speedup), 4, colour.filled())))
                .map_err(err)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    })
}
