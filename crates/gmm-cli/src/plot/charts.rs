//! The charts a picture is made of: the scatter with ellipses, the lower
//! bound per iteration, the information criteria against K.

use anyhow::{Result, anyhow};
use gmm_core::Selection;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::colour;
use super::scene::{Scene, ellipse};

/// The span of `values`, padded by 5% on each side.
///
/// No finite value (a fit with `--max-iter 0` has no lower bound) gives
/// `-1..1`: an empty or infinite range would leave plotters looking for
/// tick marks forever.
pub(super) fn range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    if lo > hi {
        return -1.0..1.0;
    }
    // At least a few ulps of the values' size, so that a constant series
    // still spans distinct floats.
    let pad = ((hi - lo) * 0.05)
        .max(lo.abs().max(hi.abs()) * 1e-12)
        .max(1e-9);
    (lo - pad)..(hi + pad)
}

/// The largest font size, at most `max`, at which `text` fits the width of
/// `area` (less its margins): a long title (hundreds of components, many
/// points) is drawn smaller rather than clipped.
pub(super) fn caption_size<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    max: u32,
) -> u32 {
    let width = area.dim_in_pixel().0.saturating_sub(24);
    (8..=max)
        .rev()
        .find(|&size| {
            area.estimate_text_size(text, &("sans-serif", size as f64).into_text_style(area))
                .is_ok_and(|(w, _)| w <= width)
        })
        .unwrap_or(8)
}

/// An ellipse's points, its component's colour, and its number of sigmas.
type Ellipse = (Vec<(f64, f64)>, RGBColor, f64);

fn ellipses(scene: &Scene) -> Vec<Ellipse> {
    scene
        .components
        .iter()
        .flat_map(|(mu, q, c)| (1..=3).map(move |s| (ellipse(*mu, *q, s as f64), *c, s as f64)))
        .collect()
}

/// The x and y spans of everything `scene` draws: points and ellipses.
pub(super) fn scene_extent(scene: &Scene) -> [(f64, f64); 2] {
    let ellipses = ellipses(scene);
    let mut ext = [(f64::INFINITY, f64::NEG_INFINITY); 2];
    let all = scene
        .points
        .iter()
        .map(|p| (p[0], p[1]))
        .chain(ellipses.iter().flat_map(|(pts, ..)| pts.iter().copied()));
    for (x, y) in all {
        ext[0] = (ext[0].0.min(x), ext[0].1.max(x));
        ext[1] = (ext[1].0.min(y), ext[1].1.max(y));
    }
    ext
}

/// Draws `scene` over the spans `extent` (see [`scene_extent`]; an animation
/// keeps one extent for all its frames).
pub(super) fn draw_scene<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    scene: &Scene,
    extent: [(f64, f64); 2],
) -> Result<()> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
    let ellipses = ellipses(scene);
    let [xs, ys] = extent.map(|(lo, hi)| range([lo, hi].into_iter()));
    let mut chart = ChartBuilder::on(area)
        .caption(
            &scene.title,
            ("sans-serif", caption_size(area, &scene.title, 20)),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(xs, ys)
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

/// Draws the first `shown` lower bounds of `lbs` on axes that fit all of
/// them (so that the frames of an animation share the axes).
pub(super) fn draw_lower_bounds<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lbs: &[f64],
    shown: usize,
) -> Result<()> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
    let points = |upto: usize| -> Vec<(i64, f64)> {
        lbs.iter()
            .take(upto)
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| (i as i64 + 1, *v))
            .collect()
    };
    let finite = points(shown);
    // Iterations are whole numbers: an integer axis labels each at most once.
    let xr = 0..(lbs.len() as i64 + 1);
    let yr = range(points(lbs.len()).iter().map(|p| p.1));
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
        .x_labels(lbs.len().clamp(1, 10) + 1)
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

pub(super) fn draw_criteria<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    sel: &Selection,
) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts of an SVG drawing.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| {
                let body = t.split_once('>')?.1;
                Some(body.split_once("</text>")?.0.trim().to_string())
            })
            .collect()
    }

    fn lower_bound_labels(lbs: &[f64]) -> Vec<String> {
        super::super::register_font();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (600, 500)).into_drawing_area();
            draw_lower_bounds(&root, lbs, lbs.len()).unwrap();
            root.present().unwrap();
        }
        // The iteration labels: the texts that are whole numbers.
        texts(&svg)
            .into_iter()
            .filter(|t| t.parse::<u64>().is_ok())
            .collect()
    }

    #[test]
    fn each_iteration_is_labelled_at_most_once() {
        for n in [1, 2, 3, 5, 12, 100] {
            let lbs: Vec<f64> = (0..n).map(|i| -3.0 + 0.1 * (i as f64).sqrt()).collect();
            let labels = lower_bound_labels(&lbs);
            let mut unique = labels.clone();
            unique.dedup();
            assert_eq!(labels, unique, "{n} iterations");
            assert!(!labels.is_empty(), "{n} iterations");
        }
    }

    #[test]
    fn no_lower_bound_draws_an_empty_chart() {
        // --max-iter 0: no iteration, no finite value; plotters must get a
        // finite, non-empty range.
        assert_eq!(range(std::iter::empty()), -1.0..1.0);
        assert_eq!(range([f64::NEG_INFINITY, f64::NAN].into_iter()), -1.0..1.0);
        let r = range([-4.5].into_iter());
        assert!(r.start < -4.5 && r.end > -4.5);
        lower_bound_labels(&[]);
    }

    #[test]
    fn a_long_title_is_drawn_smaller_to_fit() {
        super::super::register_font();
        let mut svg = String::new();
        let root = SVGBackend::with_string(&mut svg, (700, 560)).into_drawing_area();
        let short = "iteration 3: 3 components";
        assert_eq!(caption_size(&root, short, 20), 20);
        let long = "iteration 100: 300 components, spherical covariance, 20000 of 1000000 \
                    points, PCA projection";
        let size = caption_size(&root, long, 20);
        assert!(size < 20, "{size}");
        let (w, _) = root
            .estimate_text_size(long, &("sans-serif", size as f64).into_text_style(&root))
            .unwrap();
        assert!(w <= 700 - 24, "{w} pixels at {size}");
    }
}
