//! `gmm fit --animate` and `gmm demo`'s GIF: frames that decode, one per
//! iteration (or an even choice of at most 60), that differ, while the fit
//! itself stays the same bits.

use super::{assert_fails, gmm, s};
use crate::common::fixture_path;

/// The frames of a GIF, as RGBA pixels, and its size.
fn decode_gif(path: &std::path::Path) -> (u16, u16, Vec<Vec<u8>>) {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options
        .read_info(std::fs::File::open(path).unwrap())
        .unwrap();
    let (w, h) = (decoder.width(), decoder.height());
    let mut frames = Vec::new();
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        assert_eq!((frame.width, frame.height), (w, h), "full frames");
        frames.push(frame.buffer.to_vec());
    }
    (w, h, frames)
}

fn fit(args: &[&str]) -> String {
    let o = gmm(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn animate_draws_one_frame_per_iteration_and_leaves_the_fit_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let data = fixture_path("seed2d.npy");
    let gif_path = dir.path().join("fit.gif");
    let common = [s(&data), "-k", "3", "--max-iter", "12", "--tol", "0", "-q"];
    let plain = fit(&[&["fit"], &common[..]].concat());
    let animated = fit(&[&["fit"], &common[..], &["--animate", s(&gif_path)]].concat());
    assert_eq!(plain, animated, "the model is the same with --animate");
    let (w, h, frames) = decode_gif(&gif_path);
    assert_eq!((w, h), (1200, 560));
    assert_eq!(frames.len(), 13, "the initial model and 12 iterations");
    for pair in frames.windows(2) {
        assert_ne!(pair[0], pair[1], "every frame moves on");
    }
    let colours: std::collections::HashSet<&[u8]> = frames[12].chunks_exact(4).collect();
    assert!(colours.len() > 50, "a picture: {} colours", colours.len());

    // A long fit on 5-D data (PCA projection): at most 60 frames.
    let wide = fixture_path("aniso5d.npy");
    let long = dir.path().join("long.gif");
    fit(&[
        "fit",
        s(&wide),
        "-k",
        "3",
        "--max-iter",
        "150",
        "--tol",
        "0",
        "-q",
        "--animate",
        s(&long),
    ]);
    let (_, _, frames) = decode_gif(&long);
    assert_eq!(frames.len(), 60);
    assert_ne!(frames[0], frames[59]);

    // Only GIF; nothing written on a refusal.
    let bad = dir.path().join("fit.png");
    assert_fails(
        &gmm(&["fit", s(&data), "-k", "3", "--animate", s(&bad)]),
        1,
        "must name a .gif file",
    );
    assert!(!bad.exists());
}

#[test]
fn demo_writes_the_animation_beside_the_picture() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("demo");
    let o = gmm(&["demo", "--out-dir", s(&out_dir), "--n", "20000"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (_, _, frames) = decode_gif(&out_dir.join("fit.gif"));
    assert!(frames.len() >= 3, "{} frames", frames.len());
    assert_ne!(frames[0], frames[frames.len() - 1]);
}
