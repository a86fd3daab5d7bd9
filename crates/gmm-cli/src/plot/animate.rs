//! `gmm fit --animate fit.gif`: the fit drawn iteration by iteration.
//!
//! A [`Recorder`] wraps the fit's observer and keeps a copy of the model
//! after each iteration (of the restart the fit keeps); nothing else in the
//! fit changes, so its numbers are the same bits with or without it. Once the
//! fit is done, [`save_animation`] draws at most [`MAX_FRAMES`] of them
//! (evenly chosen, the first and the last always), each the data coloured by
//! that iteration's responsibilities with the components' ellipses and
//! means, beside the lower bound so far, on axes shared by every frame. The
//! frames are drawn with plotters' bitmap backend and encoded as GIF frames,
//! each with a palette of the 256 colours it uses most, written atomically.

use std::collections::HashMap;
use std::ops::ControlFlow;

use anyhow::{Result, anyhow, bail};
use gmm_core::{FitObserver, GaussianMixture, InitPhase, IterationProgress, Rows};
use plotters::prelude::*;

use super::charts::{draw_lower_bounds, draw_scene, scene_extent};
use super::{DEFAULT_MAX_POINTS, Scene, register_font};

/// At most this many frames are drawn.
pub const MAX_FRAMES: usize = 60;

/// Size of a frame in pixels.
const SIZE: (u32, u32) = (1200, 560);

/// Keeps the models of a fit's iterations while passing every event on to
/// the observer it wraps.
pub struct Recorder<'a> {
    inner: &'a mut (dyn FitObserver + Send),
    /// The models of the restart running now, and its last lower bound.
    current: Vec<GaussianMixture>,
    current_lb: f64,
    /// The models of the best restart finished so far, as the fit judges
    /// (the first, then any with a strictly higher final lower bound).
    best: Option<(Vec<GaussianMixture>, f64)>,
}

impl<'a> Recorder<'a> {
    /// Records the fit that `inner` watches.
    pub fn new(inner: &'a mut (dyn FitObserver + Send)) -> Self {
        Self {
            inner,
            current: Vec::new(),
            current_lb: f64::NEG_INFINITY,
            best: None,
        }
    }

    fn close_restart(&mut self) {
        if self.current.is_empty() {
            return;
        }
        let models = std::mem::take(&mut self.current);
        let better = self
            .best
            .as_ref()
            .is_none_or(|(_, lb)| self.current_lb > *lb);
        if better {
            self.best = Some((models, self.current_lb));
        }
        self.current_lb = f64::NEG_INFINITY;
    }

    /// The models of the kept restart: the initial one, then one per iteration.
    pub fn into_models(mut self) -> Vec<GaussianMixture> {
        self.close_restart();
        self.best.map(|(m, _)| m).unwrap_or_default()
    }
}

impl FitObserver for Recorder<'_> {
    fn on_restart(&mut self, restart: usize, n_init: usize) {
        self.close_restart();
        self.inner.on_restart(restart, n_init);
    }
    fn on_init_progress(&mut self, restart: usize, phase: InitPhase, done: usize, total: usize) {
        self.inner.on_init_progress(restart, phase, done, total);
    }
    fn stop_requested(&mut self) -> bool {
        self.inner.stop_requested()
    }
    fn on_initialised(&mut self, restart: usize, seconds: f64) {
        self.inner.on_initialised(restart, seconds);
    }
    fn on_model(&mut self, restart: usize, iteration: usize, model: &GaussianMixture) {
        self.current.push(model.clone());
        self.inner.on_model(restart, iteration, model);
    }
    fn on_iteration(&mut self, progress: &IterationProgress) -> ControlFlow<()> {
        self.current_lb = progress.lower_bound;
        self.inner.on_iteration(progress)
    }
}

/// Checks that `path` names a `.gif` file.
pub fn check_animation_path(path: &std::path::Path) -> Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("gif") => Ok(()),
        _ => bail!(
            "--animate {} must name a .gif file (the fit is drawn frame by frame)",
            path.display()
        ),
    }
}

/// The iterations drawn: all of `0..n`, or `MAX_FRAMES` evenly spaced ones
/// including the first and the last.
pub fn frame_iterations(n: usize) -> Vec<usize> {
    if n <= MAX_FRAMES {
        return (0..n).collect();
    }
    (0..MAX_FRAMES)
        .map(|j| (j * (n - 1) + (MAX_FRAMES - 1) / 2) / (MAX_FRAMES - 1))
        .collect()
}

/// Draws `models` (the initial model, then one per iteration, as a
/// [`Recorder`] keeps them) over `data` with the lower bounds `lbs`, and
/// stages the GIF for `out` (in place once committed). Returns it and the
/// number of frames.
pub fn save_animation<R: Rows>(
    out: gmm_io::Output,
    models: &[GaussianMixture],
    lbs: &[f64],
    data: &R,
) -> Result<(gmm_io::Staged, usize)> {
    if models.is_empty() {
        bail!("the fit recorded no model to animate");
    }
    register_font();
    let chosen = frame_iterations(models.len());
    let mut scenes = Vec::with_capacity(chosen.len());
    for &it in &chosen {
        let mut scene = Scene::new(&models[it], data, DEFAULT_MAX_POINTS)?;
        scene.title = if it == 0 {
            format!("initial model: {}", scene.title)
        } else {
            format!("iteration {it}: {}", scene.title)
        };
        scenes.push(scene);
    }
    // One extent for all frames, so that the picture does not jump.
    let extent = scenes
        .iter()
        .map(scene_extent)
        .fold([(f64::INFINITY, f64::NEG_INFINITY); 2], |acc, e| {
            [0, 1].map(|a| (acc[a].0.min(e[a].0), acc[a].1.max(e[a].1)))
        });
    let (w, h) = SIZE;
    let mut frames = Vec::with_capacity(scenes.len());
    for (scene, &it) in scenes.iter().zip(&chosen) {
        let mut rgb = vec![255u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
            root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
            let (left, right) = root.split_horizontally(700);
            draw_scene(&left, scene, extent)?;
            draw_lower_bounds(&right, lbs, it.min(lbs.len()))?;
            root.present().map_err(|e| anyhow!("{e}"))?;
        }
        frames.push(rgb);
    }
    let last = frames.len() - 1;
    let staged = out.stage(|wr| {
        let err = std::io::Error::other;
        let mut enc = gif::Encoder::new(wr, w as u16, h as u16, &[]).map_err(err)?;
        enc.set_repeat(gif::Repeat::Infinite).map_err(err)?;
        for (i, rgb) in frames.iter().enumerate() {
            let (palette, indices) = quantise(rgb);
            let frame = gif::Frame {
                width: w as u16,
                height: h as u16,
                // Hundredths of a second: a pause on the first and last frames.
                delay: if i == last {
                    250
                } else if i == 0 {
                    80
                } else {
                    15
                },
                palette: Some(palette),
                buffer: std::borrow::Cow::Owned(indices),
                ..gif::Frame::default()
            };
            enc.write_frame(&frame).map_err(err)?;
        }
        enc.into_inner().map(|_| ()).map_err(err)
    })?;
    Ok((staged, frames.len()))
}

/// A palette of the (at most) 256 colours `rgb` uses most, and each pixel's
/// index of its nearest palette colour. Deterministic: ties are broken by
/// the colour's value.
fn quantise(rgb: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let key = |p: &[u8]| (p[0] as u32) << 16 | (p[1] as u32) << 8 | p[2] as u32;
    let mut counts: HashMap<u32, u32> = HashMap::new();
    for p in rgb.chunks_exact(3) {
        *counts.entry(key(p)).or_default() += 1;
    }
    let mut by_use: Vec<(u32, u32)> = counts.into_iter().collect();
    by_use.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    by_use.truncate(256);
    let colours: Vec<[i32; 3]> = by_use
        .iter()
        .map(|(c, _)| [(c >> 16) as i32, (c >> 8 & 255) as i32, (c & 255) as i32])
        .collect();
    let mut index: HashMap<u32, u8> = by_use
        .iter()
        .enumerate()
        .map(|(i, (c, _))| (*c, i as u8))
        .collect();
    let indices = rgb
        .chunks_exact(3)
        .map(|p| {
            *index.entry(key(p)).or_insert_with(|| {
                let q = [p[0] as i32, p[1] as i32, p[2] as i32];
                let dist = |c: &[i32; 3]| (0..3).map(|a| (c[a] - q[a]).pow(2)).sum::<i32>();
                (0..colours.len())
                    .min_by_key(|&i| dist(&colours[i]))
                    .expect("at least one colour") as u8
            })
        })
        .collect();
    let palette = colours
        .iter()
        .flat_map(|c| c.iter().map(|&v| v as u8))
        .collect();
    (palette, indices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_all_iterations_or_an_even_choice_with_both_ends() {
        assert_eq!(frame_iterations(5), vec![0, 1, 2, 3, 4]);
        let f = frame_iterations(201);
        assert_eq!(f.len(), MAX_FRAMES);
        assert_eq!((f[0], f[MAX_FRAMES - 1]), (0, 200));
        assert!(f.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn quantised_frames_keep_up_to_256_colours_exactly() {
        let mut rgb = Vec::new();
        for i in 0..300u32 {
            rgb.extend_from_slice(&[(i % 256) as u8, (i / 256) as u8, 7]);
        }
        let (palette, idx) = quantise(&rgb);
        assert_eq!(palette.len(), 256 * 3);
        assert_eq!(idx.len(), 300);
        // A colour in the palette maps to itself.
        let p = &palette[idx[10] as usize * 3..idx[10] as usize * 3 + 3];
        assert_eq!(p, &rgb[30..33]);
    }
}
