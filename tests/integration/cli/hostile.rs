//! Hostile files and flags on the newer surfaces (issue 30): each test is one
//! reproduction of the probe, asserting what a user must see instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, DictionaryArray, Float64Array, Int32Array, RecordBatch};
use arrow_ipc::MetadataVersion;
use arrow_ipc::writer::{FileWriter, IpcWriteOptions, StreamWriter};
use arrow_schema::{DataType, Field, Schema};

use super::{assert_fails, gmm, s};

/// A scratch directory with data files made on request.
struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// `n` rows of the seeds' data as `name` (.npy, .parquet or .arrow).
    fn data(&self, name: &str, n: usize) -> PathBuf {
        let p = self.path(name);
        let o = gmm(&[
            "generate",
            "--preset",
            "seed2d",
            "--n",
            &n.to_string(),
            "--out",
            s(&p),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        p
    }

    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.0.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The model bytes of `gmm fit DATA -k 3` with extra arguments.
fn fit_bytes(dir: &Dir, data: &Path, extra: &[&str]) -> Vec<u8> {
    let out = dir.path("model-under-test.json");
    let mut args = vec![
        "fit",
        s(data),
        "-k",
        "3",
        "--seed",
        "1",
        "-q",
        "--out",
        s(&out),
    ];
    args.extend_from_slice(extra);
    ok(&gmm(&args));
    let bytes = std::fs::read(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    bytes
}

/// Runs `gmm args` and kills it after `limit`: a hang is a failure, not a
/// test that never ends.
fn within(limit: Duration, args: &[&str]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gmm"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("gmm {args:?} still ran after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn xy_batch(n: usize) -> RecordBatch {
    let x: Vec<f64> = (0..n).map(|i| (i % 97) as f64 * 0.1).collect();
    let y: Vec<f64> = (0..n).map(|i| ((i * 7) % 89) as f64 * 0.2).collect();
    RecordBatch::try_from_iter([
        ("x", Arc::new(Float64Array::from(x)) as ArrayRef),
        ("y", Arc::new(Float64Array::from(y)) as ArrayRef),
    ])
    .unwrap()
}

fn write_arrow_with(path: &Path, batch: &RecordBatch, options: IpcWriteOptions) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = FileWriter::try_new_with_options(f, &batch.schema(), options).unwrap();
    w.write(batch).unwrap();
    w.finish().unwrap();
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

#[test]
fn animate_with_max_iter_0_finishes_and_writes_both_outputs() {
    let dir = Dir::new();
    let x = dir.data("x.npy", 2000);
    let (m, a) = (dir.path("m.json"), dir.path("a.gif"));
    let args = [
        "fit",
        s(&x),
        "-k",
        "3",
        "--max-iter",
        "0",
        "--out",
        s(&m),
        "--animate",
        s(&a),
    ];
    let out = within(Duration::from_secs(60), &args);
    ok(&out);
    assert!(m.is_file() && a.is_file());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("initialised only"), "{err}");
    assert!(!err.contains("NaN") && !err.contains("-inf"), "{err}");
}

#[test]
fn demo_refuses_a_point_count_beyond_memory_before_allocating() {
    let dir = Dir::new();
    let d = dir.path("demo");
    let out = within(
        Duration::from_secs(60),
        &["demo", "--n", "1000000000000", "--out-dir", s(&d)],
    );
    assert_fails(&out, 1, "of memory");
    assert!(!d.join("model.json").exists());
}

#[test]
fn a_closed_stderr_pipe_never_panics_a_verb() {
    let dir = Dir::new();
    let x = dir.data("x.npy", 3000);
    let m = dir.path("m.json");
    let cases: Vec<Vec<String>> = vec![
        vec![
            "fit".into(),
            s(&x).into(),
            "-k".into(),
            "3".into(),
            "--out".into(),
            s(&m).into(),
        ],
        vec!["info".into(), s(&x).into()],
        vec![
            "fit".into(),
            s(&dir.path("missing.npy")).into(),
            "-k".into(),
            "3".into(),
        ],
        vec![
            "convert".into(),
            s(&x).into(),
            s(&dir.path("y.parquet")).into(),
        ],
    ];
    for args in cases {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gmm"))
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader of standard error goes away at once.
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_ne!(status.code(), Some(101), "gmm {args:?} panicked");
        assert!(
            status.code().is_some(),
            "gmm {args:?} died of a signal: {status:?}"
        );
    }
    assert!(m.is_file(), "the fit's model was written");
}

#[test]
fn two_columns_of_one_name_are_refused_as_ambiguous() {
    let dir = Dir::new();
    let b = xy_batch(100);
    let schema = Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("x", DataType::Float64, false),
    ]);
    let twice = RecordBatch::try_new(Arc::new(schema), b.columns().to_vec()).unwrap();
    let p = dir.path("dup.parquet");
    write_parquet(&p, &twice);
    let out = gmm(&[
        "fit",
        s(&p),
        "-k",
        "2",
        "--columns",
        "x",
        "--out",
        s(&dir.path("m.json")),
    ]);
    assert_fails(&out, 1, "ambiguous");
}

#[test]
fn select_checks_every_candidate_before_the_first_fit() {
    let dir = Dir::new();
    let x = dir.data("x.npy", 2000);
    let out = within(
        Duration::from_secs(60),
        &["select", s(&x), "--components", "1..3000"],
    );
    assert_fails(&out, 1, "2001");
}

#[test]
fn an_animation_name_too_long_fails_before_the_fit_and_writes_nothing() {
    let dir = Dir::new();
    let x = dir.data("x.npy", 2000);
    let m = dir.path("m.json");
    let long = dir.path(&format!("{}.gif", "a".repeat(300)));
    let out = gmm(&[
        "fit",
        s(&x),
        "-k",
        "3",
        "--out",
        s(&m),
        "--animate",
        s(&long),
    ]);
    assert_fails(&out, 1, "file name is 304 bytes");
    assert_eq!(dir.names(), ["x.npy"]);
}

#[test]
fn demo_writes_all_its_outputs_or_none() {
    let dir = Dir::new();
    let d = dir.path("demo");
    std::fs::create_dir_all(d.join("fit.gif")).unwrap();
    let out = gmm(&["demo", "--n", "3000", "--out-dir", s(&d)]);
    assert_fails(&out, 1, "directory");
    assert!(!d.join("model.json").exists() && !d.join("fit.png").exists());
}

#[test]
fn an_empty_parquet_or_arrow_shard_is_accepted_like_an_empty_npy_shard() {
    let dir = Dir::new();
    let whole = dir.data("whole.parquet", 3000);
    let expected = fit_bytes(&dir, &whole, &[]);
    for ext in ["parquet", "arrow"] {
        let shards = dir.path(&format!("shards-{ext}"));
        std::fs::create_dir(&shards).unwrap();
        let a = shards.join(format!("a.{ext}"));
        ok(&gmm(&["convert", s(&whole), s(&a)]));
        // b: the same columns, no rows.
        let empty = xy_batch(0);
        let schema = Schema::new(vec![
            Field::new("x0", DataType::Float64, false),
            Field::new("x1", DataType::Float64, false),
        ]);
        let empty = RecordBatch::try_new(Arc::new(schema), empty.columns().to_vec()).unwrap();
        let b = shards.join(format!("b.{ext}"));
        if ext == "parquet" {
            write_parquet(&b, &empty);
        } else {
            write_arrow_with(&b, &empty, IpcWriteOptions::default());
        }
        assert_eq!(fit_bytes(&dir, &shards, &[]), expected, "{ext}");
    }
}

#[test]
fn dictionary_encoded_float_columns_are_decoded() {
    let dir = Dir::new();
    let plain = xy_batch(2000);
    let encode = |a: &ArrayRef| -> ArrayRef {
        let v = a.as_any().downcast_ref::<Float64Array>().unwrap();
        let keys = Int32Array::from((0..v.len() as i32).collect::<Vec<_>>());
        Arc::new(DictionaryArray::try_new(keys, Arc::new(v.clone())).unwrap())
    };
    let dict = RecordBatch::try_from_iter([
        ("x", encode(plain.column(0))),
        ("y", encode(plain.column(1))),
    ])
    .unwrap();
    let (p, a, d_arrow, d_parquet) = (
        dir.path("plain.arrow"),
        dir.path("plain2.arrow"),
        dir.path("dict.arrow"),
        dir.path("dict.parquet"),
    );
    write_arrow_with(&p, &plain, IpcWriteOptions::default());
    write_arrow_with(&a, &plain, IpcWriteOptions::default());
    write_arrow_with(&d_arrow, &dict, IpcWriteOptions::default());
    write_parquet(&d_parquet, &dict);
    let expected = fit_bytes(&dir, &p, &[]);
    assert_eq!(fit_bytes(&dir, &d_arrow, &[]), expected);
    assert_eq!(fit_bytes(&dir, &d_parquet, &[]), expected);
}

#[test]
fn arrow_v4_metadata_and_pre_0_15_streams_are_read() {
    let dir = Dir::new();
    let b = xy_batch(2000);
    let v5 = dir.path("v5.arrow");
    write_arrow_with(&v5, &b, IpcWriteOptions::default());
    let expected = fit_bytes(&dir, &v5, &[]);
    let v4 = dir.path("v4.arrow");
    write_arrow_with(
        &v4,
        &b,
        IpcWriteOptions::try_new(8, false, MetadataVersion::V4).unwrap(),
    );
    assert_eq!(fit_bytes(&dir, &v4, &[]), expected);
    // A stream of Arrow before 0.15: no continuation markers.
    let legacy = dir.path("legacy.arrows");
    let options = IpcWriteOptions::try_new(8, true, MetadataVersion::V4).unwrap();
    let f = std::fs::File::create(&legacy).unwrap();
    let mut w = StreamWriter::try_new_with_options(f, &b.schema(), options).unwrap();
    w.write(&b).unwrap();
    w.finish().unwrap();
    drop(w);
    assert_ne!(std::fs::read(&legacy).unwrap()[..4], [0xff; 4]);
    assert_eq!(fit_bytes(&dir, &legacy, &[]), expected);
}

#[test]
fn hidden_files_in_a_shard_directory_are_not_shards() {
    let dir = Dir::new();
    let whole = dir.data("whole.parquet", 3000);
    let expected = fit_bytes(&dir, &whole, &[]);
    let shards = dir.path("shards");
    std::fs::create_dir(&shards).unwrap();
    std::fs::copy(&whole, shards.join("a.parquet")).unwrap();
    std::fs::write(shards.join(".DS_Store"), b"\0\0\0\x01Bud1").unwrap();
    std::fs::write(
        shards.join("._a.parquet"),
        b"\x00\x05\x16\x07 resource fork",
    )
    .unwrap();
    assert_eq!(fit_bytes(&dir, &shards, &[]), expected);
}

#[test]
fn control_bytes_from_a_file_reach_the_terminal_escaped() {
    let dir = Dir::new();
    let b = xy_batch(50);
    let schema = Schema::new(vec![
        Field::new("evil\u{1b}[2J\nname\0", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
    ]);
    let p = dir.path("evil.parquet");
    write_parquet(
        &p,
        &RecordBatch::try_new(Arc::new(schema), b.columns().to_vec()).unwrap(),
    );
    let info = gmm(&["info", s(&p)]);
    ok(&info);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(!text.contains('\u{1b}') && !text.contains('\0'), "{text:?}");
    assert!(
        text.contains("evil\\u{1b}[2J\\nname\\u{0} (Float64)"),
        "{text}"
    );
    // An error naming the column: one line, escaped.
    let out = gmm(&["fit", s(&p), "-k", "2", "--columns", "nope"]);
    assert_fails(&out, 1, "\\u{1b}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\u{1b}'));
    // A CSV cell.
    let csv = dir.path("bad.csv");
    std::fs::write(&csv, "a,b\n1,2\n3,\u{1b}]0;pwned\u{7}\n").unwrap();
    let out = gmm(&["convert", s(&csv), s(&dir.path("bad.npy"))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stderr).contains('\u{1b}'));
}

#[test]
fn an_unknown_output_extension_is_refused_with_the_known_ones() {
    let dir = Dir::new();
    let x = dir.data("x.npy", 500);
    let m = dir.path("m.json");
    ok(&gmm(&["fit", s(&x), "-k", "2", "-q", "--out", s(&m)]));
    let xyz = dir.path("out.xyz");
    for args in [
        vec!["convert", s(&x), s(&xyz)],
        vec!["predict", s(&m), s(&x), "--out", s(&xyz)],
        vec![
            "generate",
            "--preset",
            "small",
            "--n",
            "10",
            "--out",
            s(&xyz),
        ],
    ] {
        assert_fails(&gmm(&args), 1, ".parquet");
        assert!(!xyz.exists(), "{args:?}");
    }
}

#[test]
fn bad_flag_values_are_usage_errors() {
    let dir = Dir::new();
    let x = dir.data("x.npy", 500);
    let y = dir.path("y.npy");
    for args in [
        vec!["select", s(&x), "--criterion", "xyz"],
        vec!["convert", s(&x), s(&y), "--delimiter", ";;"],
        vec!["convert", s(&x), s(&y), "--delimiter", ""],
        vec!["fit", s(&x), "-k", "2", "--covariance", "round"],
        vec!["select", s(&x), "--components", "a..b"],
        vec!["generate", "--preset", "nope", "--out", s(&y)],
    ] {
        let out = gmm(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr)
                .trim_end()
                .lines()
                .count(),
            1
        );
    }
}

/// `gmm args` with standard output closed (not /dev/null: closed).
fn closed_stdout(args: &[&str]) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" >&-")
        .arg(env!("CARGO_BIN_EXE_gmm"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn score_and_select_refuse_a_closed_stdout() {
    let dir = Dir::new();
    let x = dir.data("x.npy", 500);
    let m = dir.path("m.json");
    ok(&gmm(&["fit", s(&x), "-k", "2", "-q", "--out", s(&m)]));
    assert_fails(
        &closed_stdout(&["score", s(&m), s(&x)]),
        1,
        "standard output is closed",
    );
    assert_fails(
        &closed_stdout(&["select", s(&x), "--components", "1..2"]),
        1,
        "standard output is closed",
    );
    // With --out, select's result reaches a file.
    let best = dir.path("best.json");
    let out = closed_stdout(&["select", s(&x), "--components", "1..2", "--out", s(&best)]);
    ok(&out);
    assert!(best.is_file());
}

#[test]
fn a_fifo_is_not_a_dataset() {
    let dir = Dir::new();
    let fifo = dir.path("x.npy");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // No writer: opening it would wait forever.
    assert_fails(
        &within(Duration::from_secs(30), &["info", s(&fifo)]),
        1,
        "FIFO",
    );
    assert_fails(
        &within(Duration::from_secs(30), &["fit", s(&fifo), "-k", "2"]),
        1,
        "FIFO",
    );
}

#[test]
fn a_predict_on_the_wrong_columns_names_the_data() {
    let dir = Dir::new();
    let x = dir.data("x.npy", 500);
    let m = dir.path("m.json");
    ok(&gmm(&["fit", s(&x), "-k", "2", "-q", "--out", s(&m)]));
    let wide = dir.path("wide.npy");
    ok(&gmm(&[
        "generate",
        "--preset",
        "small",
        "--n",
        "100",
        "--out",
        s(&wide),
    ]));
    let labels = dir.path("labels.npy");
    let out = gmm(&["predict", s(&m), s(&wide), "--out", s(&labels)]);
    assert_fails(
        &out,
        1,
        "wide.npy: the data has 8 columns but the model was fitted on 2",
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("labels.npy"));
    assert!(!labels.exists());
}
