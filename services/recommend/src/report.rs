//! The evaluation report: a Markdown table of every configuration tried, and a chart of validation
//! HR@10 per epoch (PNG, drawn here pixel by pixel with a small digit font; plus the same chart as
//! SVG with its labels).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use crate::eval::{Metrics, TopK};
use crate::model::Epoch;
use crate::{RecError, Result};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Run {
    pub dataset: String,
    pub model: String,
    pub config: String,
    /// Mean over the seeds (one seed for fixed negatives).
    pub metrics: Metrics,
    pub seeds: usize,
    pub topk: Option<TopK>,
    pub history: Vec<Epoch>,
    pub seconds: f64,
    /// Whether this run is the model's reported line (the others are configurations tried).
    pub headline: bool,
}

const COLORS: [[u8; 3]; 8] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75], [227, 119, 194], [23, 190, 207]];

/// Writes `report.md`, `val-hr10.png` and `val-hr10.svg` into `dir`; returns the Markdown path.
pub fn write(dir: &Path, title: &str, runs: &[Run], references: &str, notes: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|source| RecError::Io { path: dir.display().to_string(), source })?;
    let series: Vec<(String, Vec<f64>)> = runs
        .iter()
        .filter(|r| !r.history.is_empty() && r.headline)
        .map(|r| (format!("{} {}", r.dataset, r.model), r.history.iter().map(|e| e.val.hr10).collect()))
        .collect();
    let png = dir.join("val-hr10.png");
    chart_png(&series).save(&png).map_err(|e| RecError::Data(format!("{}: {e}", png.display())))?;
    let svg = dir.join("val-hr10.svg");
    std::fs::write(&svg, chart_svg(&series)).map_err(|source| RecError::Io { path: svg.display().to_string(), source })?;

    let mut md = String::new();
    let _ = writeln!(md, "# {title}\n");
    let _ = writeln!(md, "Protocol: each user's held-out item ranked among its candidates (the NCF split's fixed 99 negatives, built as a set; elsewhere 99 negatives sampled per seed, each model trained once and scored on every seed's test set, results averaged over the seeds). Ties count against the model. Each model is chosen on a validation split (each user's latest training interaction among 99 sampled negatives: EASE^R's λ, the neural models' best epoch by early stopping) and then fitted again on the whole training set with that choice; the validation runs' own test figures are listed under the configurations tried. Precision / recall / F1 at 10: a random 20 % of each user's (≥ 5) training interactions held out, the ten best of all unseen items.\n");
    let _ = writeln!(md, "## Results\n\n| dataset | model | HR@10 | NDCG@10 | P@10 | R@10 | F1@10 | seeds | best epoch | time |\n|---|---|---|---|---|---|---|---|---|---|");
    for r in runs.iter().filter(|r| r.headline) {
        let _ = writeln!(md, "{}", row(r));
    }
    let _ = writeln!(md, "\n## Every configuration tried\n\n| dataset | model | configuration | HR@10 | NDCG@10 | time |\n|---|---|---|---|---|---|");
    for r in runs {
        let _ = writeln!(md, "| {} | {} | `{}` | {:.4} | {:.4} | {:.0} s |", r.dataset, r.model, r.config, r.metrics.hr10, r.metrics.ndcg10, r.seconds);
    }
    let _ = writeln!(md, "\n## Validation HR@10 per epoch\n\n![validation HR@10](val-hr10.png)\n\nColours, in order: {}.\n",
        series.iter().enumerate().map(|(k, (n, _))| format!("{} = {}", color_name(k), n)).collect::<Vec<_>>().join(", "));
    if !references.is_empty() {
        let _ = writeln!(md, "## Published numbers on the same split\n\n{references}\n");
    }
    if !notes.is_empty() {
        let _ = writeln!(md, "## Notes\n\n{notes}\n");
    }
    let path = dir.join("report.md");
    std::fs::write(&path, md).map_err(|source| RecError::Io { path: path.display().to_string(), source })?;
    Ok(path)
}

fn row(r: &Run) -> String {
    let (p, rc, f) = r.topk.map_or(("–".into(), "–".into(), "–".into()), |t| (format!("{:.4}", t.precision10), format!("{:.4}", t.recall10), format!("{:.4}", t.f1_10)));
    let best = r.history.iter().max_by(|a, b| a.val.hr10.total_cmp(&b.val.hr10)).map_or("–".into(), |e| e.epoch.to_string());
    format!("| {} | {} | {:.4} | {:.4} | {p} | {rc} | {f} | {} | {best} | {:.0} s |", r.dataset, r.model, r.metrics.hr10, r.metrics.ndcg10, r.seeds, r.seconds)
}

fn color_name(k: usize) -> &'static str {
    ["blue", "orange", "green", "red", "purple", "brown", "pink", "cyan"][k % 8]
}

const W: u32 = 800;
const H: u32 = 480;
const L: f64 = 60.0;
const R: f64 = 20.0;
const T: f64 = 20.0;
const B: f64 = 40.0;

fn bounds(series: &[(String, Vec<f64>)]) -> (usize, f64, f64) {
    let epochs = series.iter().map(|s| s.1.len()).max().unwrap_or(1).max(2);
    let lo = series.iter().flat_map(|s| s.1.iter().copied()).fold(1.0f64, f64::min);
    let hi = series.iter().flat_map(|s| s.1.iter().copied()).fold(0.0f64, f64::max);
    let lo = (lo * 10.0).floor() / 10.0;
    let hi = ((hi * 10.0).ceil() / 10.0).max(lo + 0.1);
    (epochs, lo, hi)
}

fn xy(epoch: usize, v: f64, epochs: usize, lo: f64, hi: f64) -> (f64, f64) {
    let x = L + (epoch as f64 - 1.0) / (epochs as f64 - 1.0) * (W as f64 - L - R);
    let y = T + (hi - v) / (hi - lo) * (H as f64 - T - B);
    (x, y)
}

fn chart_png(series: &[(String, Vec<f64>)]) -> RgbImage {
    let mut img = RgbImage::from_pixel(W, H, Rgb([255, 255, 255]));
    let (epochs, lo, hi) = bounds(series);
    let grey = Rgb([200, 200, 200]);
    let dark = Rgb([60, 60, 60]);
    // horizontal grid every 0.05 with labels
    let mut v = lo;
    while v <= hi + 1e-9 {
        let (_, y) = xy(1, v, epochs, lo, hi);
        line(&mut img, L, y, W as f64 - R, y, grey, 1);
        text(&mut img, 4, y as i32 - 3, &format!("{v:.2}"), dark);
        v += 0.05;
    }
    for e in 1..=epochs {
        let (x, _) = xy(e, lo, epochs, lo, hi);
        line(&mut img, x, H as f64 - B, x, H as f64 - B + 4.0, dark, 1);
        if epochs <= 25 || e % 5 == 0 {
            text(&mut img, x as i32 - 3, H as i32 - (B as i32) + 8, &e.to_string(), dark);
        }
    }
    line(&mut img, L, T, L, H as f64 - B, dark, 1);
    line(&mut img, L, H as f64 - B, W as f64 - R, H as f64 - B, dark, 1);
    for (k, (_, vals)) in series.iter().enumerate() {
        let c = Rgb(COLORS[k % COLORS.len()]);
        for (e, w) in vals.windows(2).enumerate() {
            let (x0, y0) = xy(e + 1, w[0], epochs, lo, hi);
            let (x1, y1) = xy(e + 2, w[1], epochs, lo, hi);
            line(&mut img, x0, y0, x1, y1, c, 2);
        }
        for (e, val) in vals.iter().enumerate() {
            let (x, y) = xy(e + 1, *val, epochs, lo, hi);
            line(&mut img, x - 2.0, y, x + 2.0, y, c, 3);
        }
        // legend swatch with the series number
        let lx = W as i32 - 120;
        let ly = T as i32 + 6 + 14 * k as i32;
        for dx in 0..16 {
            for dy in 0..8 {
                put(&mut img, lx + dx, ly + dy, c);
            }
        }
        text(&mut img, lx + 22, ly + 1, &(k + 1).to_string(), dark);
    }
    img
}

fn put(img: &mut RgbImage, x: i32, y: i32, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

fn line(img: &mut RgbImage, x0: f64, y0: f64, x1: f64, y1: f64, c: Rgb<u8>, width: i32) {
    let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as i32).max(1);
    for s in 0..=n {
        let t = s as f64 / n as f64;
        let (x, y) = ((x0 + (x1 - x0) * t).round() as i32, (y0 + (y1 - y0) * t).round() as i32);
        for d in 0..width {
            put(img, x, y + d - width / 2, c);
            put(img, x + d - width / 2, y, c);
        }
    }
}

/// Digits and the point in a 3×5 pixel font, scaled ×2.
fn text(img: &mut RgbImage, x: i32, y: i32, s: &str, c: Rgb<u8>) {
    const GLYPHS: [(char, [u8; 5]); 11] = [
        ('0', [7, 5, 5, 5, 7]),
        ('1', [2, 6, 2, 2, 7]),
        ('2', [7, 1, 7, 4, 7]),
        ('3', [7, 1, 7, 1, 7]),
        ('4', [5, 5, 7, 1, 1]),
        ('5', [7, 4, 7, 1, 7]),
        ('6', [7, 4, 7, 5, 7]),
        ('7', [7, 1, 1, 1, 1]),
        ('8', [7, 5, 7, 5, 7]),
        ('9', [7, 5, 7, 1, 7]),
        ('.', [0, 0, 0, 0, 2]),
    ];
    let mut cx = x;
    for ch in s.chars() {
        if let Some((_, rows)) = GLYPHS.iter().find(|g| g.0 == ch) {
            for (ry, bits) in rows.iter().enumerate() {
                for rx in 0..3 {
                    if bits & (4 >> rx) != 0 {
                        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                            put(img, cx + rx * 2 + dx, y + ry as i32 * 2 + dy, c);
                        }
                    }
                }
            }
        }
        cx += 8;
    }
}

fn chart_svg(series: &[(String, Vec<f64>)]) -> String {
    let (epochs, lo, hi) = bounds(series);
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"12\"><rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let mut v = lo;
    while v <= hi + 1e-9 {
        let (_, y) = xy(1, v, epochs, lo, hi);
        let _ = write!(s, "<line x1=\"{L}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"8\" y=\"{:.1}\">{v:.2}</text>", W as f64 - R, y + 4.0);
        v += 0.05;
    }
    let _ = write!(s, "<text x=\"{}\" y=\"{}\">epoch</text><text x=\"8\" y=\"14\">validation HR@10</text>", W / 2, H - 6);
    for (k, (name, vals)) in series.iter().enumerate() {
        let c = COLORS[k % COLORS.len()];
        let pts: Vec<String> = vals.iter().enumerate().map(|(e, v)| {
            let (x, y) = xy(e + 1, *v, epochs, lo, hi);
            format!("{x:.1},{y:.1}")
        }).collect();
        let _ = write!(s, "<polyline fill=\"none\" stroke=\"rgb({},{},{})\" stroke-width=\"2\" points=\"{}\"/>", c[0], c[1], c[2], pts.join(" "));
        let _ = write!(s, "<text x=\"{}\" y=\"{}\" fill=\"rgb({},{},{})\">{}</text>", W - 260, 30 + 16 * k, c[0], c[1], c[2], name.replace('&', "&amp;").replace('<', "&lt;"));
    }
    s.push_str("</svg>");
    s
}
