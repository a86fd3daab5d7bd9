//! `.npy` reading: in place when possible, converted when needed, refused
//! clearly otherwise, and never a panic on hostile bytes.

use std::path::Path;

use gmm::io::{Dataset, DatasetView, Dtype, write_npy};
use gmm::{DataView, GaussianMixtureParams, Init};

/// A `.npy` file from parts: `pad_to` aligns the data offset (0: no padding).
fn raw_npy(major: u8, dict: &str, data: &[u8], pad_to: usize) -> Vec<u8> {
    let prefix = if major == 1 { 10 } else { 12 };
    let mut text = dict.to_string();
    if pad_to > 0 {
        while !(prefix + text.len() + 1).is_multiple_of(pad_to) {
            text.push(' ');
        }
    }
    text.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[major, 0]);
    if major == 1 {
        out.extend_from_slice(&(text.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(data);
    out
}

fn dict(descr: &str, fortran: bool, shape: &str) -> String {
    let f = if fortran { "True" } else { "False" };
    format!("{{'descr': '{descr}', 'fortran_order': {f}, 'shape': {shape}, }}")
}

fn values(ds: &Dataset) -> Vec<f64> {
    ds.view().to_f64_rows()
}

fn open_bytes(dir: &Path, name: &str, bytes: &[u8]) -> gmm::io::Result<Dataset> {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    Dataset::open(&p)
}

/// 6 x 3 data with integer values (exact in every numeric type).
fn grid() -> Vec<f64> {
    (0..18).map(|i| ((i * 7) % 11) as f64).collect()
}

#[test]
fn little_endian_float_c_order_is_mapped_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let x = grid();
    for major in [1u8, 2, 3] {
        let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        let ds = open_bytes(
            dir.path(),
            "a.npy",
            &raw_npy(major, &dict("<f8", false, "(6, 3)"), &bytes, 64),
        )
        .unwrap();
        assert!(ds.is_mapped(), "version {major}");
        assert_eq!(ds.info().version, (major, 0));
        assert_eq!(values(&ds), x);
    }
    let bytes: Vec<u8> = x.iter().flat_map(|v| (*v as f32).to_le_bytes()).collect();
    let ds = open_bytes(
        dir.path(),
        "b.npy",
        &raw_npy(1, &dict("<f4", false, "(6, 3)"), &bytes, 64),
    )
    .unwrap();
    assert!(ds.is_mapped());
    assert_eq!(ds.dtype(), Dtype::F32);
    assert_eq!(values(&ds), x);
    // 1-D arrays are one column; a Fortran flag on a single column changes nothing.
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let ds = open_bytes(
        dir.path(),
        "c.npy",
        &raw_npy(1, &dict("<f8", true, "(18,)"), &bytes, 64),
    )
    .unwrap();
    assert!(ds.is_mapped());
    assert_eq!((ds.n_samples(), ds.n_features()), (18, 1));
}

#[test]
fn other_layouts_and_types_are_converted_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let x = grid();
    let cases: Vec<(&str, Vec<u8>, bool, &str)> = vec![
        (
            ">f8",
            x.iter().flat_map(|v| v.to_be_bytes()).collect(),
            false,
            "big-endian",
        ),
        (
            ">f4",
            x.iter().flat_map(|v| (*v as f32).to_be_bytes()).collect(),
            false,
            "big-endian",
        ),
        (
            "<i4",
            x.iter().flat_map(|v| (*v as i32).to_le_bytes()).collect(),
            false,
            "int32 converted",
        ),
        (
            ">i8",
            x.iter().flat_map(|v| (*v as i64).to_be_bytes()).collect(),
            false,
            "int64 converted",
        ),
        (
            "|u1",
            x.iter().map(|v| *v as u8).collect(),
            false,
            "uint8 converted",
        ),
        (
            "<u2",
            x.iter().flat_map(|v| (*v as u16).to_le_bytes()).collect(),
            false,
            "uint16",
        ),
        (
            "<f2",
            x.iter().flat_map(|v| half(*v).to_le_bytes()).collect(),
            false,
            "float16",
        ),
    ];
    for (descr, bytes, f, why) in cases {
        let ds = open_bytes(
            dir.path(),
            "x.npy",
            &raw_npy(1, &dict(descr, f, "(6, 3)"), &bytes, 64),
        )
        .unwrap();
        assert!(!ds.is_mapped(), "{descr}");
        let reason = ds.info().conversion.clone().unwrap();
        assert!(reason.contains(why), "{descr}: {reason}");
        assert_eq!(values(&ds), x, "{descr}");
    }
    let b: Vec<u8> = x.iter().map(|v| (*v > 4.0) as u8).collect();
    let ds = open_bytes(
        dir.path(),
        "b.npy",
        &raw_npy(1, &dict("|b1", false, "(6, 3)"), &b, 64),
    )
    .unwrap();
    assert_eq!(
        values(&ds),
        x.iter()
            .map(|v| (*v > 4.0) as u8 as f64)
            .collect::<Vec<_>>()
    );
    // Unaligned data (offset not a multiple of 8) is copied, not misread.
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut d = dict("<f8", false, "(6, 3)");
    while (10 + d.len() + 1) % 8 != 4 {
        d.push(' ');
    }
    let ds = open_bytes(dir.path(), "u.npy", &raw_npy(1, &d, &bytes, 0)).unwrap();
    assert!(!ds.is_mapped());
    assert_eq!(ds.info().conversion.as_deref(), Some("unaligned data"));
    assert_eq!(values(&ds), x);
}

/// Half-precision bits of a small integer value.
fn half(v: f64) -> u16 {
    if v == 0.0 {
        return 0;
    }
    let e = v.log2().floor() as i32;
    let frac = ((v / 2f64.powi(e) - 1.0) * 1024.0).round() as u16;
    (((e + 15) as u16) << 10) | frac
}

#[test]
fn a_converted_file_fits_exactly_like_its_c_order_original() {
    let dir = tempfile::tempdir().unwrap();
    let n = 3000;
    let x = gmm::Preset::Small.generate(Some(n), 12);
    let d = 8;
    let c_path = dir.path().join("c.npy");
    write_npy(&c_path, &x, &[n, d]).unwrap();
    let fortran: Vec<f64> = (0..d)
        .flat_map(|j| (0..n).map(move |i| (i, j)))
        .map(|(i, j)| x[i * d + j])
        .collect();
    let f_bytes: Vec<u8> = fortran.iter().flat_map(|v| v.to_be_bytes()).collect();
    let f = open_bytes(
        dir.path(),
        "f.npy",
        &raw_npy(2, &dict(">f8", true, &format!("({n}, {d})")), &f_bytes, 64),
    )
    .unwrap();
    let c = Dataset::open(&c_path).unwrap();
    let fit = |ds: &Dataset| {
        let DatasetView::F64(v) = ds.view() else {
            panic!()
        };
        let init = gmm::fixed_init(v, 4).unwrap();
        GaussianMixtureParams::new(4)
            .init(Init::Given(init))
            .max_iter(10)
            .tol(0.0)
            .fit(v)
            .unwrap()
            .model
    };
    assert_eq!(fit(&c), fit(&f));
    let _ = DataView::new(&x, n, d).unwrap();
}

#[test]
fn unusable_files_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let eight = [0u8; 48];
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (Vec::new(), "empty"),
        (b"PK\x03\x04 this is a zip".to_vec(), "magic"),
        (b"\x93NUMPY\x07\x00\x10\x00".to_vec(), "version 7.0"),
        (
            raw_npy(1, &dict("<c16", false, "(2, 1)"), &[0; 32], 64),
            "complex",
        ),
        (
            raw_npy(1, &dict("|O", false, "(2, 1)"), &[0; 16], 64),
            "objects",
        ),
        (
            raw_npy(1, &dict("<U5", false, "(2, 1)"), &[0; 40], 64),
            "strings",
        ),
        (
            raw_npy(
                1,
                "{'descr': [('a', '<f8'), ('b', '<i4')], 'fortran_order': False, 'shape': (2,), }",
                &[0; 24],
                64,
            ),
            "structured",
        ),
        (
            raw_npy(1, &dict("<f8", false, "()"), &eight[..8], 64),
            "0-dimensional",
        ),
        (
            raw_npy(1, &dict("<f8", false, "(1, 2, 3)"), &eight, 64),
            "3-dimensional",
        ),
        (
            raw_npy(1, &dict("<f8", false, "(3, 2)"), &eight[..40], 64),
            "truncated",
        ),
        (
            raw_npy(1, &dict("<f8", false, "(2, 2)"), &eight[..40], 64),
            "unexpected bytes",
        ),
        (
            raw_npy(
                1,
                &dict("<f8", false, "(4611686018427387904, 4)"),
                &eight,
                64,
            ),
            "too large",
        ),
        (
            raw_npy(1, &dict("<f8", false, "(2, -1)"), &eight, 64),
            "shape entry -1 is negative",
        ),
        (
            raw_npy(1, &dict("<f8", false, "(6, 0)"), &[], 64),
            "no columns",
        ),
        (
            raw_npy(1, "{'descr': '<f8', 'shape': (6, 1), }", &eight, 64),
            "fortran_order",
        ),
    ];
    for (bytes, needle) in cases {
        let e = open_bytes(dir.path(), "bad.npy", &bytes)
            .unwrap_err()
            .to_string();
        assert!(e.contains(needle), "{e:?} lacks {needle:?}");
        assert!(e.contains("bad.npy"), "{e}");
    }
    // An oversized header length is refused before anything is allocated.
    let mut huge = b"\x93NUMPY\x02\x00".to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(
        open_bytes(dir.path(), "h.npy", &huge)
            .unwrap_err()
            .to_string()
            .contains("header")
    );
    // A directory is not a file.
    assert!(
        Dataset::open(dir.path())
            .unwrap_err()
            .to_string()
            .contains("directory")
    );
}

/// Random corruptions of valid files (seeded): every one opens or fails cleanly.
#[test]
fn hostile_bytes_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let x = grid();
    let seeds: Vec<Vec<u8>> = vec![
        raw_npy(
            1,
            &dict("<f8", false, "(6, 3)"),
            &x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
            64,
        ),
        raw_npy(
            2,
            &dict(">i4", true, "(6, 3)"),
            &x.iter()
                .flat_map(|v| (*v as i32).to_be_bytes())
                .collect::<Vec<_>>(),
            64,
        ),
        raw_npy(3, &dict("<f2", false, "(18,)"), &[0x3c; 36], 64),
    ];
    let path = dir.path().join("fuzz.npy");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut opened = 0;
    for round in 0..3000 {
        let mut bytes = seeds[round % seeds.len()].clone();
        match next() % 4 {
            0 => bytes.truncate((next() as usize) % (bytes.len() + 1)),
            1 => {
                for _ in 0..1 + next() % 4 {
                    let i = (next() as usize) % bytes.len();
                    bytes[i] = next() as u8;
                }
            }
            2 => {
                // Corrupt the header text only.
                let i = 10 + (next() as usize) % 60;
                bytes[i] = b"(),:'0123456789-ab TrueFalse{}"[(next() as usize) % 30];
            }
            _ => bytes.extend((0..next() % 17).map(|_| next() as u8)),
        }
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(ds) = Dataset::open(&path) {
            opened += 1;
            let _ = values(&ds);
        }
    }
    assert!(
        opened > 0,
        "no mutation left a readable file: the test is not exercising reads"
    );
}

/// `x` (`n x d`, row-major) in Fortran order.
fn to_fortran<T: Copy>(x: &[T], n: usize, d: usize) -> Vec<T> {
    (0..d)
        .flat_map(|j| (0..n).map(move |i| (i, j)))
        .map(|(i, j)| x[i * d + j])
        .collect()
}

/// Fits `path` as the CLI does (a `DataSource`), with the default k-means init.
fn fit_source(path: &Path, k: usize) -> gmm::GaussianMixture {
    let src = gmm::io::DataSource::open(path).unwrap();
    let params = GaussianMixtureParams::new(k).max_iter(12).seed(5);
    match src.rows() {
        gmm::io::SourceRows::F64(r) => params.fit(&r).unwrap().model,
        gmm::io::SourceRows::F32(r) => params.fit(&r).unwrap().model,
    }
}

#[test]
fn fortran_order_files_are_mapped_in_place_and_fit_like_c_order() {
    let dir = tempfile::tempdir().unwrap();
    // Several blocks and chunks, an odd width (partial strips), f64 and f32.
    let (n, d) = (70_001, 5);
    let x = gmm::Preset::Small.generate(Some(n), 3);
    let x: Vec<f64> = x
        .chunks_exact(x.len() / n)
        .flat_map(|r| [r[0], r[1], r[0] - r[1], r[1] * 0.5, 1.0 + r[2 % r.len()]])
        .collect();
    assert_eq!(x.len(), n * d);
    let c_path = dir.path().join("c.npy");
    write_npy(&c_path, &x, &[n, d]).unwrap();
    let f = to_fortran(&x, n, d);
    let f_path = dir.path().join("f.npy");
    let header = dict("<f8", true, &format!("({n}, {d})"));
    let bytes: Vec<u8> = f.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&f_path, raw_npy(1, &header, &bytes, 64)).unwrap();
    let ds = Dataset::open(&f_path).unwrap();
    assert!(ds.is_mapped(), "{:?}", ds.info().conversion);
    assert_eq!(ds.info().layout, "Fortran");
    assert!(matches!(ds.view(), DatasetView::ColumnsF64(_)));
    assert_eq!(ds.view().to_f64_rows(), x);
    assert_eq!(fit_source(&c_path, 4), fit_source(&f_path, 4));

    // float32, and a directory mixing C and Fortran shards (cut inside a block).
    let x32: Vec<f32> = x.iter().map(|v| *v as f32).collect();
    let c32 = dir.path().join("c32.npy");
    write_npy(&c32, &x32, &[n, d]).unwrap();
    let cut = 9_999;
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    write_npy(&shards.join("a.npy"), &x32[..cut * d], &[cut, d]).unwrap();
    let tail = to_fortran(&x32[cut * d..], n - cut, d);
    let header = dict("<f4", true, &format!("({}, {d})", n - cut));
    let bytes: Vec<u8> = tail.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(shards.join("b.npy"), raw_npy(1, &header, &bytes, 64)).unwrap();
    assert!(Dataset::open(&shards.join("b.npy")).unwrap().is_mapped());
    assert_eq!(fit_source(&c32, 3), fit_source(&shards, 3));

    // A non-finite value is reported at its row and column, as for C order.
    let mut bad = f.clone();
    bad[2 * n + 777] = f64::NAN;
    let bytes: Vec<u8> = bad.iter().flat_map(|v| v.to_le_bytes()).collect();
    let bad_path = dir.path().join("bad.npy");
    let header = dict("<f8", true, &format!("({n}, {d})"));
    std::fs::write(&bad_path, raw_npy(1, &header, &bytes, 64)).unwrap();
    let src = gmm::io::DataSource::open(&bad_path).unwrap();
    let gmm::io::SourceRows::F64(r) = src.rows() else {
        panic!()
    };
    let err = GaussianMixtureParams::new(2)
        .fit(&r)
        .unwrap_err()
        .to_string();
    assert!(err.contains("row 777") && err.contains("column 2"), "{err}");
}
