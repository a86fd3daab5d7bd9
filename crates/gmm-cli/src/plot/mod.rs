//! Pictures of fits (plotters): points coloured by their responsibilities,
//! each component's 1, 2 and 3 sigma ellipses and mean, the lower bound per
//! iteration, and information criteria against K. PNG or SVG by extension,
//! written atomically. Text uses the embedded DejaVu Sans font, so no system
//! font is needed.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

mod animate;
mod charts;
mod scene;

pub use animate::{Recorder, check_animation_path, save_animation};
use charts::{draw_criteria, draw_lower_bounds, draw_scene, scene_extent};
use gmm_core::Selection;
use plotters::coord::Shift;
use plotters::prelude::*;
pub use scene::Scene;

/// DejaVu Sans (see `assets/DejaVuSans.LICENSE`).
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Default number of points drawn in a scatter plot.
pub const DEFAULT_MAX_POINTS: usize = 20_000;

/// Category10 colours, one per component (cycled).
pub(crate) const PALETTE: [(u8, u8, u8); 10] = [
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

pub(crate) fn colour(k: usize) -> RGBColor {
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

/// Draws `picture` for `out` (PNG or SVG by the extension of its path),
/// staged: in place once committed with the command's other outputs.
pub fn save(out: gmm_io::Output, picture: &Picture<'_>) -> Result<gmm_io::Staged> {
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
            out.stage(|w| {
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
            out.stage(|w| w.write_all(text.as_bytes()))
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
                draw_scene(&left, scene, scene_extent(scene))?;
                draw_lower_bounds(&right, lbs, lbs.len())
            }
            None => draw_scene(root, scene, scene_extent(scene)),
        },
        Picture::Criteria(sel) => draw_criteria(root, sel),
    }
}
