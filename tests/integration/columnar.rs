//! Arrow IPC and Parquet data: every way of writing the same values fits to
//! the same bits as the row-major `.npy`; columns are chosen by name; nulls,
//! strings and hostile files are refused with one line, never a panic.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use gmm::GaussianMixtureParams;
use gmm::io::{ColumnarFile, DataSource, SourceRows, write_npy};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::cli::{assert_fails, gmm, s};

/// `n` rows of 3 features: several kernel blocks, a width of partial strips.
fn data(n: usize) -> Vec<f64> {
    let x = gmm::Preset::Small.generate(Some(n), 11);
    let d = x.len() / n;
    x.chunks_exact(d)
        .flat_map(|r| [r[0], r[1] - 0.5 * r[0], r[d - 1]])
        .collect()
}

fn column(x: &[f64], d: usize, j: usize) -> Vec<f64> {
    x.chunks_exact(d).map(|r| r[j]).collect()
}

/// A batch of columns `a`, `b`, `c` (float64), the label `name` (strings)
/// and `count` (int32) around them.
fn batch(x: &[f64], lo: usize, hi: usize) -> RecordBatch {
    let col = |j| Arc::new(Float64Array::from(column(x, 3, j)[lo..hi].to_vec())) as ArrayRef;
    RecordBatch::try_from_iter([
        (
            "name",
            Arc::new(StringArray::from_iter_values(
                (lo..hi).map(|i| format!("r{i}")),
            )) as ArrayRef,
        ),
        ("a", col(0)),
        ("b", col(1)),
        (
            "count",
            Arc::new(Int32Array::from_iter_values(lo as i32..hi as i32)) as ArrayRef,
        ),
        ("c", col(2)),
    ])
    .unwrap()
}

fn batches(x: &[f64], per: usize) -> Vec<RecordBatch> {
    let n = x.len() / 3;
    (0..n)
        .step_by(per)
        .map(|lo| batch(x, lo, (lo + per).min(n)))
        .collect()
}

fn write_parquet(path: &Path, batches: &[RecordBatch], rows_per_group: usize) {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(rows_per_group))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn write_arrow(path: &Path, batches: &[RecordBatch], compressed: bool) {
    let mut options = IpcWriteOptions::default();
    if compressed {
        options = options
            .try_with_compression(Some(arrow_ipc::CompressionType::ZSTD))
            .unwrap();
    }
    let file = std::fs::File::create(path).unwrap();
    let mut w = FileWriter::try_new_with_options(file, &batches[0].schema(), options).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
}

fn fit(path: &Path, columns: Option<&[&str]>) -> gmm::GaussianMixture {
    let names: Option<Vec<String>> = columns.map(|c| c.iter().map(|s| s.to_string()).collect());
    let src = DataSource::open_columns(path, names.as_deref()).unwrap();
    let params = GaussianMixtureParams::new(4).max_iter(12).seed(3);
    match src.rows() {
        SourceRows::F64(r) => params.fit(&r).unwrap().model,
        SourceRows::F32(r) => params.fit(&r).unwrap().model,
    }
}

#[test]
fn parquet_and_arrow_fit_to_the_bits_of_the_npy() {
    let dir = tempfile::tempdir().unwrap();
    let n = 70_001;
    let x = data(n);
    let npy = dir.path().join("x.npy");
    write_npy(&npy, &x, &[n, 3]).unwrap();
    let expected = fit(&npy, None);
    let abc = Some(&["a", "b", "c"][..]);

    // Batches and row groups that end inside kernel blocks.
    let parts = batches(&x, 9_999);
    let pq = dir.path().join("x.parquet");
    write_parquet(&pq, &parts, 20_000);
    let arrow = dir.path().join("x.arrow");
    write_arrow(&arrow, &parts, false);
    let zstd = dir.path().join("z.feather");
    write_arrow(&zstd, &parts, true);
    let stream = dir.path().join("x.arrows");
    let mut w =
        StreamWriter::try_new(std::fs::File::create(&stream).unwrap(), &parts[0].schema()).unwrap();
    parts.iter().for_each(|b| w.write(b).unwrap());
    w.finish().unwrap();

    for path in [&pq, &arrow, &zstd, &stream] {
        // Default: every numeric column, `count` included; named: a, b, c.
        let all = ColumnarFile::open(path, None).unwrap();
        assert_eq!(all.column_names(), ["a", "b", "count", "c"], "{path:?}");
        assert_eq!(all.n_samples(), n);
        assert_eq!(fit(path, abc), expected, "{path:?}");
    }
    let in_place = ColumnarFile::open(&arrow, Some(&["a".into(), "c".into()])).unwrap();
    assert_eq!(
        in_place.conversion(),
        None,
        "uncompressed Arrow is read in place"
    );
    let decoded = ColumnarFile::open(&zstd, None).unwrap();
    assert!(decoded.conversion().unwrap().contains("Int32"));
    assert!(
        ColumnarFile::open(&pq, None)
            .unwrap()
            .conversion()
            .is_some()
    );

    // A directory of Parquet shards, and the columns in another order.
    let shards = dir.path().join("shards");
    std::fs::create_dir(&shards).unwrap();
    write_parquet(&shards.join("0.parquet"), &parts[..3], 5_000);
    write_parquet(&shards.join("1.parquet"), &parts[3..], 50_000);
    assert_eq!(fit(&shards, abc), expected);
    let swapped: Vec<f64> = x.chunks_exact(3).flat_map(|r| [r[2], r[0], r[1]]).collect();
    let swapped_npy = dir.path().join("swapped.npy");
    write_npy(&swapped_npy, &swapped, &[n, 3]).unwrap();
    for path in [&pq, &arrow] {
        assert_eq!(fit(path, Some(&["c", "a", "b"])), fit(&swapped_npy, None));
    }
}

#[test]
fn float32_columns_stay_float32_and_read_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let n = 30_000;
    let x: Vec<f32> = data(n).iter().map(|v| *v as f32).collect();
    let npy = dir.path().join("x32.npy");
    write_npy(&npy, &x, &[n, 3]).unwrap();
    let cols: Vec<(&str, ArrayRef)> = ["u", "v", "w"]
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let c: Vec<f32> = x.chunks_exact(3).map(|r| r[j]).collect();
            (*name, Arc::new(Float32Array::from(c)) as ArrayRef)
        })
        .collect();
    let b = RecordBatch::try_from_iter(cols).unwrap();
    let arrow = dir.path().join("x32.arrow");
    write_arrow(
        &arrow,
        &[b.slice(0, 12_345), b.slice(12_345, n - 12_345)],
        false,
    );
    let pq = dir.path().join("x32.parquet");
    write_parquet(&pq, &[b], 8_192);
    for path in [&arrow, &pq] {
        let f = ColumnarFile::open(path, None).unwrap();
        assert_eq!(f.dtype(), gmm::io::Dtype::F32);
        assert_eq!(fit(path, None), fit(&npy, None), "{path:?}");
    }
    assert_eq!(ColumnarFile::open(&arrow, None).unwrap().conversion(), None);
}

#[test]
fn columns_are_chosen_by_name_and_bad_ones_refused() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(500);
    let pq = dir.path().join("x.parquet");
    write_parquet(&pq, &batches(&x, 200), 1000);
    let arrow = dir.path().join("x.arrow");
    write_arrow(&arrow, &batches(&x, 200), false);
    let npy = dir.path().join("x.npy");
    write_npy(&npy, &x, &[500, 3]).unwrap();
    for path in [&pq, &arrow] {
        let p = s(path);
        let fit = |cols: &str| gmm(&["fit", p, "-k", "2", "-q", "--columns", cols]);
        assert_fails(&fit("a,zz"), 1, "there is no column 'zz'");
        assert_fails(&fit("a,name"), 1, "column 'name' holds Utf8, not numbers");
        assert_fails(&fit("a,a"), 1, "named twice");
        let ok = fit("c,a");
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let model: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
        assert_eq!(model["n_features"], 2);
        let info = gmm(&["info", p, "--columns", "b"]);
        let text = String::from_utf8_lossy(&info.stdout);
        assert!(text.contains("500 rows x 1 columns"), "{text}");
        assert!(text.contains("name (Utf8, not read)"), "{text}");
    }
    assert_fails(
        &gmm(&["fit", s(&npy), "-k", "2", "--columns", "a"]),
        1,
        ".npy columns have no names",
    );

    // A null is named by column and row, across batches and row groups.
    let mut a: Vec<Option<f64>> = column(&x, 3, 0).into_iter().map(Some).collect();
    a[321] = None;
    let b = RecordBatch::try_from_iter([
        ("a", Arc::new(Float64Array::from(a)) as ArrayRef),
        (
            "b",
            Arc::new(Float64Array::from(column(&x, 3, 1))) as ArrayRef,
        ),
    ])
    .unwrap();
    let nulls_pq = dir.path().join("nulls.parquet");
    write_parquet(&nulls_pq, &[b.slice(0, 300), b.slice(300, 200)], 100);
    let nulls_arrow = dir.path().join("nulls.arrow");
    write_arrow(&nulls_arrow, &[b.slice(0, 300), b.slice(300, 200)], false);
    for path in [&nulls_pq, &nulls_arrow] {
        assert_fails(
            &gmm(&["fit", s(path), "-k", "2"]),
            1,
            "column 'a' has a null at row 321",
        );
        // Not named, not read: the null does not matter.
        assert!(gmm(&["info", s(path), "--columns", "b"]).status.success());
    }

    // A file of strings only, and a directory mixing formats.
    let strings = RecordBatch::try_from_iter([(
        "s",
        Arc::new(StringArray::from(vec!["x", "y"])) as ArrayRef,
    )])
    .unwrap();
    let only_strings = dir.path().join("s.arrow");
    write_arrow(&only_strings, &[strings], false);
    assert_fails(&gmm(&["info", s(&only_strings)]), 1, "no numeric column");
    let mixed = dir.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    std::fs::copy(&pq, mixed.join("a.parquet")).unwrap();
    std::fs::copy(&npy, mixed.join("b.npy")).unwrap();
    assert_fails(
        &gmm(&["fit", s(&mixed), "-k", "2"]),
        1,
        "keep one format per directory",
    );
}

#[test]
fn hostile_columnar_files_get_one_line_and_no_panic() {
    use rand::{RngExt, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let x = data(300);
    let good_pq = dir.path().join("good.parquet");
    write_parquet(&good_pq, &batches(&x, 100), 100);
    let good_arrow = dir.path().join("good.arrow");
    write_arrow(&good_arrow, &batches(&x, 100), false);
    let good_zstd = dir.path().join("good.feather");
    write_arrow(&good_zstd, &batches(&x, 100), true);
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
    let mut refused = 0;
    for good in [&good_pq, &good_arrow, &good_zstd] {
        let bytes = std::fs::read(good).unwrap();
        let len = bytes.len();
        let mut cases: Vec<Vec<u8>> = [1, 4, 6, 12, 64, len / 2, len - 1, len - 6, len - 10]
            .iter()
            .map(|&cut| bytes[..cut].to_vec())
            .collect();
        let mut wrong_magic = bytes.clone();
        wrong_magic[..4].copy_from_slice(b"NOPE");
        cases.push(wrong_magic);
        for _ in 0..120 {
            let mut b = bytes.clone();
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(0..len);
                b[at] = rng.random();
            }
            cases.push(b);
        }
        let bad = dir.path().join(format!(
            "bad.{}",
            good.extension().unwrap().to_str().unwrap()
        ));
        for case in cases {
            std::fs::write(&bad, &case).unwrap();
            for args in [
                vec!["info", s(&bad)],
                vec!["fit", s(&bad), "-k", "2", "-q", "--max-iter", "2"],
            ] {
                let out = gmm(&args);
                if out.status.success() {
                    continue; // a flipped byte in a value is still a valid file
                }
                refused += 1;
                assert_fails(&out, 1, "");
            }
        }
    }
    assert!(
        refused > 100,
        "only {refused} of the damaged files were refused"
    );
    let wrong = dir.path().join("x.parquet");
    std::fs::copy(&good_arrow, &wrong).unwrap();
    assert_fails(&gmm(&["info", s(&wrong)]), 1, "this is an Arrow IPC file");
}

#[test]
fn predict_writes_parquet_and_convert_round_trips_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    let n = 5_000;
    let x = data(n);
    write_npy(&p("x.npy"), &x, &[n, 3]).unwrap();
    let ok = |args: &[&str]| {
        let out = gmm(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // npy -> parquet -> arrow -> csv -> npy: the same bits at the end.
    ok(&["convert", s(&p("x.npy")), s(&p("x.parquet"))]);
    ok(&["convert", s(&p("x.parquet")), s(&p("x.arrow"))]);
    ok(&["convert", s(&p("x.arrow")), s(&p("x.csv"))]);
    ok(&["convert", s(&p("x.csv")), s(&p("back.npy"))]);
    ok(&["convert", s(&p("x.csv")), s(&p("direct.parquet"))]);
    let back = gmm::io::Dataset::open(&p("back.npy")).unwrap();
    assert_eq!(back.view().to_f64_rows(), x);
    let csv = std::fs::read_to_string(p("x.csv")).unwrap();
    assert!(csv.starts_with("x0,x1,x2\n"), "{}", &csv[..40]);
    let direct = ColumnarFile::open(&p("direct.parquet"), None).unwrap();
    assert_eq!(direct.n_samples(), n);

    // predict: labels and responsibilities as Parquet/Arrow columns.
    ok(&[
        "fit",
        s(&p("x.npy")),
        "-k",
        "3",
        "-q",
        "--out",
        s(&p("m.json")),
    ]);
    ok(&[
        "predict",
        s(&p("m.json")),
        s(&p("x.parquet")),
        "--out",
        s(&p("l.npy")),
    ]);
    ok(&[
        "predict",
        s(&p("m.json")),
        s(&p("x.npy")),
        "--out",
        s(&p("l.parquet")),
    ]);
    ok(&[
        "predict",
        s(&p("m.json")),
        s(&p("x.npy")),
        "--proba",
        "--out",
        s(&p("r.arrow")),
    ]);
    ok(&[
        "predict",
        s(&p("m.json")),
        s(&p("x.npy")),
        "--proba",
        "--out",
        s(&p("r.npy")),
    ]);
    let labels = ColumnarFile::open(&p("l.parquet"), None).unwrap();
    assert_eq!(labels.column_names(), ["label"]);
    let as_npy = gmm::io::Dataset::open(&p("l.npy")).unwrap();
    let src = DataSource::open(&p("l.parquet")).unwrap();
    let SourceRows::F64(rows) = src.rows() else {
        panic!("labels are int64, read as float64")
    };
    let mut got = vec![0.0; 1];
    for (i, want) in as_npy.view().to_f64_rows().iter().enumerate() {
        gmm::Rows::copy_row(&rows, i, &mut got);
        assert_eq!(got[0], *want, "row {i}");
    }
    let proba = ColumnarFile::open(&p("r.arrow"), None).unwrap();
    assert_eq!(proba.column_names(), ["p0", "p1", "p2"]);
    assert_eq!(proba.conversion(), None);
    let src = DataSource::open(&p("r.arrow")).unwrap();
    let SourceRows::F64(rows) = src.rows() else {
        panic!()
    };
    let want = gmm::io::Dataset::open(&p("r.npy"))
        .unwrap()
        .view()
        .to_f64_rows();
    let mut row = vec![0.0; 3];
    for i in (0..n).step_by(97) {
        gmm::Rows::copy_row(&rows, i, &mut row);
        assert_eq!(row, want[i * 3..i * 3 + 3], "row {i}");
    }
}

#[test]
fn a_pandas_index_is_not_read_unless_named() {
    use arrow_schema::{DataType, Field, Schema};
    let dir = tempfile::tempdir().unwrap();
    let x = data(400);
    // What `df.to_parquet()` writes for a shuffled or filtered DataFrame.
    let metadata = [(
        "pandas".to_string(),
        r#"{"index_columns": ["__index_level_0__"], "columns": []}"#.to_string(),
    )];
    let schema = Schema::new_with_metadata(
        vec![
            Field::new("a", DataType::Float64, false),
            Field::new("b", DataType::Float64, false),
            Field::new("__index_level_0__", DataType::Int64, false),
        ],
        metadata
            .into_iter()
            .collect::<std::collections::HashMap<String, String>>(),
    );
    let b = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(Float64Array::from(column(&x, 3, 0))),
            Arc::new(Float64Array::from(column(&x, 3, 1))),
            Arc::new(arrow_array::Int64Array::from_iter_values((0..400).rev())),
        ],
    )
    .unwrap();
    let pq = dir.path().join("pandas.parquet");
    write_parquet(&pq, std::slice::from_ref(&b), 1000);
    let arrow = dir.path().join("pandas.feather");
    write_arrow(&arrow, &[b], true);
    for path in [&pq, &arrow] {
        let f = ColumnarFile::open(path, None).unwrap();
        assert_eq!(f.column_names(), ["a", "b"], "{path:?}");
        assert!(f.fields()[2].pandas_index && !f.fields()[2].selected);
        let named = ColumnarFile::open(path, Some(&["__index_level_0__".into()])).unwrap();
        assert_eq!(named.n_features(), 1);
        let info = gmm(&["info", s(path)]);
        assert!(String::from_utf8_lossy(&info.stdout).contains("pandas index, not read"));
    }
}
