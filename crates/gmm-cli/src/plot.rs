//! Pictures of fits (plotters): points coloured by their responsibilities,
//! each component's 1, 2 and 3 sigma ellipses and mean, the lower bound per
//! iteration, and information criteria against K. PNG or SVG by extension,
//! written atomically. Text uses the embedded DejaVu Sans font, so no system
//! font is needed.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use gmm_core::{DataView, GaussianMixture, Rows, Selection};
use plotters::coord::Shift;
use plotters::prelude::*;

/// DejaVu Sans (see `assets/DejaVuSans.LICENSE`).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Default number of points drawn in a scatter plot.
pub const DEFAULT_MAX_POINTS: usize = 20_000;

/// Category10 colours, one per component (cycled).
const PALETTE: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

fn colour(k: usize) -> RGBColor {
    let (r, g, b) = PALETTE[k % PALETTE.len()];
    RGBColor(r, g, b)
}

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("the embedded font is valid"));
    });
}

enum Format {
    Png,
    Svg,
}

fn format_of(path: &Path) -> Result<Format> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => Ok(Format::Png),
        Some("svg") => Ok(Format::Svg),
        _ => bail!(
            "cannot tell the picture format of {}: name it .png or .svg",
            path.display()
        ),
    }
}

/// Checks that `path` names a .png or .svg file.
pub fn check_picture_path(path: &Path) -> Result<()> {
    format_of(path).map(|_| ())
}

/// What a picture shows.
pub enum Picture<'a> {
    /// A fit: the scatter with ellipses, and the lower bound per iteration
    /// if given.
    Fit {
        /// The scatter.
        scene: &'a Scene,
        /// Lower bound per iteration (drawn beside the scatter).
        lower_bounds: Option<&'a [f64]>,
    },
    /// Information criteria against the number of components.
    Criteria(&'a Selection),
}

/// Writes `picture` to `out` (PNG or SVG by the extension of its path), atomically.
pub fn save(out: gmm_io::Output, picture: &Picture<'_>) -> Result<()> {
    let path = &out.path().to_path_buf();
    register_font();
    let size: (u32, u32) = match picture {
        Picture::Fit {
            lower_bounds: Some(_),
            ..
        } => (1500, 700),
        Picture::Fit { .. } => (900, 750),
        Picture::Criteria(_) => (900, 600),
    };
    let written = match format_of(path)? {
        Format::Png => {
            let mut buf = vec![255u8; size.0 as usize * size.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
                draw(&root, picture)?;
                root.present().map_err(|e| anyhow!("{e}"))?;
            }
            out.write(|w| {
                let mut enc = png::Encoder::new(w, size.0, size.1);
                enc.set_color(png::ColorType::Rgb);
                enc.set_depth(png::BitDepth::Eight);
                let mut writer = enc.write_header().map_err(std::io::Error::other)?;
                writer
                    .write_image_data(&buf)
                    .map_err(std::io::Error::other)?;
                writer.finish().map_err(std::io::Error::other)
            })
        }
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                draw(&root, picture)?;
                root.present().map_err(|e| anyhow!("{e}"))?;
            }
            out.write(|w| w.write_all(text.as_bytes()))
        }
    };
    written.with_context(|| format!("cannot write the picture {}", path.display()))
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, picture: &Picture<'_>) -> Result<()> {
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    match picture {
        Picture::Fit {
            scene,
            lower_bounds,
        } => match lower_bounds {
            Some(lbs) => {
                let (left, right) = root.split_horizontally(900);
                draw_scene(&left, scene)?;
                draw_lower_bounds(&right, lbs)
            }
            None => draw_scene(root, scene),
        },
        Picture::Criteria(sel) => draw_criteria(root, sel),
    }
}

/// A 2-D view of a model and (a subsample of) its data.
pub struct Scene {
    title: String,
    axes: [String; 2],
    points: Vec<[f64; 2]>,
    colours: Vec<RGBColor>,
    components: Vec<([f64; 2], [f64; 3], RGBColor)>,
}

impl Scene {
    /// Projects `data` (at most `max_points` rows, evenly spaced) and the
    /// model on the data's two leading principal axes (the features
    /// themselves when `D = 2`); points are coloured by mixing the component
    /// colours with their responsibilities.
    pub fn new<R: Rows>(model: &GaussianMixture, data: &R, max_points: usize) -> Result<Self> {
        let (n, d) = (data.n_samples(), data.n_features());
        if d < 2 {
            bail!("a plot needs at least 2 features; the data has {d}");
        }
        if d != model.n_features() {
            bail!(
                "the data has {d} columns but the model {} features",
                model.n_features()
            );
        }
        if n == 0 {
            bail!("the data has no rows to plot");
        }
        let m = n.min(max_points.max(1));
        let mut x = vec![0.0; m * d];
        for (i, row) in x.chunks_exact_mut(d).enumerate() {
            data.copy_row(i * n / m, row);
        }
        let view = DataView::new(&x, m, d)?;
        let proba = model.predict_proba(view)?;
        let k = model.n_components();
        let colours = proba
            .chunks_exact(k)
            .map(|r| {
                let mut c = [0.0f64; 3];
                for (j, p) in r.iter().enumerate() {
                    let (a, b, e) = PALETTE[j % PALETTE.len()];
                    c[0] += p * a as f64;
                    c[1] += p * b as f64;
                    c[2] += p * e as f64;
                }
                RGBColor(c[0] as u8, c[1] as u8, c[2] as u8)
            })
            .collect();
        // Projection: centre on the subsample mean, two principal axes.
        let mut centre = vec![0.0; d];
        for row in x.chunks_exact(d) {
            for (c, v) in centre.iter_mut().zip(row) {
                *c += v / m as f64;
            }
        }
        let (axes, basis) = if d == 2 {
            (
                ["feature 0".to_string(), "feature 1".to_string()],
                vec![vec![1.0, 0.0], vec![0.0, 1.0]],
            )
        } else {
            centre.iter_mut().for_each(|c| *c = 0.0);
            for row in x.chunks_exact(d) {
                for (c, v) in centre.iter_mut().zip(row) {
                    *c += v / m as f64;
                }
            }
            let mut cov = vec![0.0; d * d];
            for row in x.chunks_exact(d) {
                for a in 0..d {
                    for b in 0..d {
                        cov[a * d + b] += (row[a] - centre[a]) * (row[b] - centre[b]) / m as f64;
                    }
                }
            }
            let basis = leading_eigenvectors(&cov, d, 2);
            (
                [
                    format!("principal axis 1 of the data ({d} features projected)"),
                    "principal axis 2".to_string(),
                ],
                basis,
            )
        };
        let origin: Vec<f64> = if d == 2 { vec![0.0; 2] } else { centre };
        let project = |v: &[f64]| -> [f64; 2] {
            let mut p = [0.0; 2];
            for (pi, axis) in p.iter_mut().zip(&basis) {
                *pi = v
                    .iter()
                    .zip(&origin)
                    .zip(axis)
                    .map(|((x, o), a)| (x - o) * a)
                    .sum();
            }
            p
        };
        let points = x.chunks_exact(d).map(project).collect();
        let components = (0..k)
            .map(|c| {
                let s = model.covariance_matrix(c);
                // 2 x 2 covariance of the projection: B S B^T.
                let mut q = [0.0; 3];
                for a in 0..d {
                    for b in 0..d {
                        q[0] += basis[0][a] * s[a * d + b] * basis[0][b];
                        q[1] += basis[0][a] * s[a * d + b] * basis[1][b];
                        q[2] += basis[1][a] * s[a * d + b] * basis[1][b];
                    }
                }
                (project(model.mean(c)), q, colour(c))
            })
            .collect();
        let title = format!(
            "{k} components, {} covariance, {m} of {n} points{}",
            model.covariance_type(),
            if d > 2 { ", PCA projection" } else { "" }
        );
        Ok(Self {
            title,
            axes,
            points,
            colours,
            components,
        })
    }
}

/// The `r` leading eigenvectors of the symmetric `d x d` matrix `a` by power
/// iteration with deflation (deterministic start), unit length.
fn leading_eigenvectors(a: &[f64], d: usize, r: usize) -> Vec<Vec<f64>> {
    let mut m = a.to_vec();
    let mut out = Vec::with_capacity(r);
    for _ in 0..r {
        let mut v: Vec<f64> = (0..d).map(|i| 1.0 + 0.1 * i as f64).collect();
        let mut lambda = 0.0;
        for _ in 0..500 {
            let mut w = vec![0.0; d];
            for i in 0..d {
                for j in 0..d {
                    w[i] += m[i * d + j] * v[j];
                }
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                break;
            }
            lambda = norm;
            v = w.into_iter().map(|x| x / norm).collect();
        }
        for i in 0..d {
            for j in 0..d {
                m[i * d + j] -= lambda * v[i] * v[j];
            }
        }
        out.push(v);
    }
    out
}

/// Points of the `s`-sigma ellipse of the 2 x 2 covariance `q = [a, b, c]`
/// (`[[a, b], [b, c]]`) around `mu`.
fn ellipse(mu: [f64; 2], q: [f64; 3], s: f64) -> Vec<(f64, f64)> {
    let (a, b, c) = (q[0], q[1], q[2]);
    let mid = 0.5 * (a + c);
    let rad = (0.25 * (a - c) * (a - c) + b * b).sqrt();
    let (l1, l2) = ((mid + rad).max(0.0), (mid - rad).max(0.0));
    let theta = 0.5 * (2.0 * b).atan2(a - c);
    let (ct, st) = (theta.cos(), theta.sin());
    (0..=120)
        .map(|i| {
            let t = i as f64 / 120.0 * std::f64::consts::TAU;
            let (u, v) = (s * l1.sqrt() * t.cos(), s * l2.sqrt() * t.sin());
            (mu[0] + u * ct - v * st, mu[1] + u * st + v * ct)
        })
        .collect()
}

fn range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad)..(hi + pad)
}

/// An ellipse's points, its component's colour, and its number of sigmas.
type Ellipse = (Vec<(f64, f64)>, RGBColor, f64);

fn draw_scene<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, scene: &Scene) -> Result<()> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
    let ellipses: Vec<Ellipse> = scene
        .components
        .iter()
        .flat_map(|(mu, q, c)| (1..=3).map(move |s| (ellipse(*mu, *q, s as f64), *c, s as f64)))
        .collect();
    let xs = scene.points.iter().map(|p| p[0]).chain(
        ellipses
            .iter()
            .flat_map(|(pts, ..)| pts.iter().map(|p| p.0)),
    );
    let ys = scene.points.iter().map(|p| p[1]).chain(
        ellipses
            .iter()
            .flat_map(|(pts, ..)| pts.iter().map(|p| p.1)),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(&scene.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(range(xs), range(ys))
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(scene.axes[0].as_str())
        .y_desc(scene.axes[1].as_str())
        .light_line_style(WHITE)
        .draw()
        .map_err(e)?;
    chart
        .draw_series(
            scene
                .points
                .iter()
                .zip(&scene.colours)
                .map(|(p, c)| Circle::new((p[0], p[1]), 2, c.mix(0.35).filled())),
        )
        .map_err(e)?;
    for (pts, c, s) in ellipses {
        // Darker than the points, fading from 1 to 3 sigma.
        let dark = RGBColor(c.0 / 5 * 3, c.1 / 5 * 3, c.2 / 5 * 3);
        chart
            .draw_series(LineSeries::new(
                pts,
                dark.mix(1.25 - 0.25 * s)
                    .stroke_width(if s == 1.0 { 3 } else { 2 }),
            ))
            .map_err(e)?;
    }
    chart
        .draw_series(
            scene
                .components
                .iter()
                .map(|(mu, _, _)| Cross::new((mu[0], mu[1]), 7, BLACK.stroke_width(3))),
        )
        .map_err(e)?;
    Ok(())
}

fn draw_lower_bounds<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, lbs: &[f64]) -> Result<()> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
    let finite: Vec<(f64, f64)> = lbs
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, v)| ((i + 1) as f64, *v))
        .collect();
    let xr = 0.5..(lbs.len().max(1) as f64 + 0.5);
    let yr = range(finite.iter().map(|p| p.1));
    // Enough decimals to tell the labels apart.
    let digits = (2.0 - (yr.end - yr.start).log10()).clamp(1.0, 12.0) as usize;
    let mut chart = ChartBuilder::on(area)
        .caption("lower bound per iteration", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(40 + 9 * digits as u32)
        .build_cartesian_2d(xr, yr)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("iteration")
        .y_desc("mean log-likelihood")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.digits$}"))
        .draw()
        .map_err(e)?;
    chart
        .draw_series(LineSeries::new(finite.clone(), colour(0).stroke_width(2)))
        .map_err(e)?;
    chart
        .draw_series(
            finite
                .iter()
                .map(|p| Circle::new(*p, 3, colour(0).filled())),
        )
        .map_err(e)?;
    Ok(())
}

fn draw_criteria<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, sel: &Selection) -> Result<()> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
    let crit = sel.criterion;
    let ks = sel.candidates.iter().map(|c| c.n_components as f64);
    let xr = range(ks);
    let yr = range(sel.candidates.iter().map(|c| c.criterion(crit)));
    let name = crit.as_str().to_uppercase();
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{name} against K (lower is better)"),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(xr, yr)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("components K")
        .y_desc(name.as_str())
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(e)?;
    let mut types: Vec<gmm_core::CovarianceType> = Vec::new();
    for c in &sel.candidates {
        if !types.contains(&c.covariance_type) {
            types.push(c.covariance_type);
        }
    }
    for (i, t) in types.iter().enumerate() {
        let pts: Vec<(f64, f64)> = sel
            .candidates
            .iter()
            .filter(|c| c.covariance_type == *t)
            .map(|c| (c.n_components as f64, c.criterion(crit)))
            .collect();
        let col = colour(i);
        chart
            .draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))
            .map_err(e)?
            .label(t.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], col.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 4, col.filled())))
            .map_err(e)?;
    }
    let best = sel.best();
    chart
        .draw_series(std::iter::once(Cross::new(
            (best.n_components as f64, best.criterion(crit)),
            9,
            BLACK.stroke_width(3),
        )))
        .map_err(e)?;
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.9))
        .draw()
        .map_err(e)?;
    Ok(())
}
