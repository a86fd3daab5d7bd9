//! Spread fits (rows split over processes) give the single-process fit bit
//! for bit. The processes are threads here, exchanging values through a
//! shared hub; `gmm-mpi` runs the same code over MPI.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use gmm::distributed::{Collective, GROUP_ROWS, Spread, share};
use gmm::{
    CovarianceType, DataView, Error, ErrorKind, Fit, GaussianMixtureParams, Init, Preset, Rows,
};

/// Messages in flight from one process to another, oldest first.
type Mailboxes = std::collections::HashMap<(usize, usize), std::collections::VecDeque<Vec<f64>>>;

/// The processes' meeting point: one slot per process, two barriers per call.
struct Hub {
    slots: Mutex<Vec<Vec<f64>>>,
    barrier: Barrier,
    /// Point-to-point messages in flight, by (from, to).
    mail: Mutex<Mailboxes>,
    posted: Condvar,
}

/// A barrier that fails the test instead of hanging when a process is gone
/// (a panic on one thread would otherwise leave the others waiting).
struct Barrier {
    size: usize,
    state: Mutex<(usize, u64)>,
    cv: Condvar,
}

impl Barrier {
    fn new(size: usize) -> Self {
        Barrier {
            size,
            state: Mutex::new((0, 0)),
            cv: Condvar::new(),
        }
    }
    fn wait(&self) {
        let mut st = self.state.lock().unwrap();
        let generation = st.1;
        st.0 += 1;
        if st.0 == self.size {
            *st = (0, generation + 1);
            self.cv.notify_all();
            return;
        }
        while st.1 == generation {
            let (next, timeout) = self.cv.wait_timeout(st, Duration::from_secs(120)).unwrap();
            st = next;
            assert!(
                !timeout.timed_out() || st.1 != generation,
                "a process stopped answering"
            );
        }
    }
}

struct Member {
    hub: Arc<Hub>,
    rank: usize,
    size: usize,
}

impl Collective for Member {
    fn size(&self) -> usize {
        self.size
    }
    fn rank(&self) -> usize {
        self.rank
    }
    fn all_gather(&self, local: &[f64]) -> Vec<f64> {
        self.hub.slots.lock().unwrap()[self.rank] = local.to_vec();
        self.hub.barrier.wait();
        let all = self.hub.slots.lock().unwrap().concat();
        self.hub.barrier.wait();
        all
    }
    fn broadcast(&self, root: usize, values: &mut [f64]) {
        if self.rank == root {
            self.hub.slots.lock().unwrap()[root] = values.to_vec();
        }
        self.hub.barrier.wait();
        if self.rank != root {
            values.copy_from_slice(&self.hub.slots.lock().unwrap()[root]);
        }
        self.hub.barrier.wait();
    }
    fn send(&self, to: usize, values: &[f64]) {
        let mut mail = self.hub.mail.lock().unwrap();
        mail.entry((self.rank, to))
            .or_default()
            .push_back(values.to_vec());
        self.hub.posted.notify_all();
    }
    fn receive(&self, from: usize, values: &mut [f64]) {
        let mut mail = self.hub.mail.lock().unwrap();
        loop {
            if let Some(m) = mail.get_mut(&(from, self.rank)).and_then(|q| q.pop_front()) {
                values.copy_from_slice(&m);
                return;
            }
            let (next, timeout) = self
                .hub
                .posted
                .wait_timeout(mail, Duration::from_secs(120))
                .unwrap();
            assert!(!timeout.timed_out(), "process {from} never sent");
            mail = next;
        }
    }
}

/// Runs `work(member)` on `size` threads, one per process; results in rank order.
fn on_processes<T: Send>(size: usize, work: impl Fn(&Member) -> T + Sync) -> Vec<T> {
    let hub = Arc::new(Hub {
        slots: Mutex::new(vec![Vec::new(); size]),
        barrier: Barrier::new(size),
        mail: Mutex::new(Default::default()),
        posted: Condvar::new(),
    });
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..size)
            .map(|rank| {
                let member = Member {
                    hub: hub.clone(),
                    rank,
                    size,
                };
                let work = &work;
                s.spawn(move || work(&member))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn same_fit(a: &Fit, b: &Fit, what: &str) {
    assert_eq!(a.model.weights(), b.model.weights(), "{what}: weights");
    assert_eq!(a.model.means(), b.model.means(), "{what}: means");
    assert_eq!(
        a.model.covariances(),
        b.model.covariances(),
        "{what}: covariances"
    );
    assert_eq!(
        a.report.lower_bounds, b.report.lower_bounds,
        "{what}: lower bounds"
    );
    assert_eq!(
        a.report.best_restart, b.report.best_restart,
        "{what}: best restart"
    );
    assert_eq!(a.report.reseeds, b.report.reseeds, "{what}: reseeds");
}

/// Fits `x` on `size` processes, each holding its share in its own buffer
/// (as `gmm_mpi::fit` callers do), and checks every process's model against
/// the single-process fit.
fn check_spread<T: gmm::Scalar>(
    x: &[T],
    d: usize,
    params: &GaussianMixtureParams,
    weights: Option<&[f64]>,
    sizes: &[usize],
    what: &str,
) -> Fit {
    let n = x.len() / d;
    let data = DataView::new(x, n, d).unwrap();
    let alone = match weights {
        None => params.fit(data),
        Some(w) => params.fit_weighted(data, w),
    }
    .unwrap();
    for &size in sizes {
        let fits = on_processes(size, |member| {
            let rows = share(n, size, member.rank);
            let local = x[rows.start * d..rows.end * d].to_vec();
            let local = DataView::new(&local, rows.len(), d).unwrap();
            let spread = Spread::new(member, local, rows.start, n).unwrap();
            match weights {
                None => params.fit(&spread),
                Some(w) => params.fit_weighted(&spread, w),
            }
            .unwrap()
        });
        for (rank, fit) in fits.iter().enumerate() {
            same_fit(fit, &alone, &format!("{what}, rank {rank} of {size}"));
        }
    }
    alone
}

fn seed2d(n: usize) -> Vec<f64> {
    Preset::Seed2d.generate(Some(n), 5)
}

#[test]
fn every_init_and_covariance_type_gives_the_single_process_bits() {
    let n = 4 * GROUP_ROWS + 12_345;
    let x = seed2d(n);
    for ct in CovarianceType::ALL {
        let given = GaussianMixtureParams::new(3)
            .covariance_type(ct)
            .max_iter(2)
            .fit(DataView::new(&x[..20_000], 10_000, 2).unwrap())
            .unwrap()
            .model;
        for init in [
            Init::KMeans,
            Init::KMeansPlusPlus,
            Init::RandomFromData,
            Init::Random,
            Init::Given(given),
        ] {
            let what = format!("{ct} {:?}", init.method());
            let params = GaussianMixtureParams::new(3)
                .covariance_type(ct)
                .init(init)
                .max_iter(15)
                .seed(3);
            let alone = check_spread(&x, 2, &params, None, &[3], &what);
            assert!(
                alone.report.n_iter >= 2,
                "{what}: {} iterations",
                alone.report.n_iter
            );
        }
    }
}

#[test]
fn any_number_of_processes_gives_the_same_bits() {
    let n = 5 * GROUP_ROWS + 777;
    let x = seed2d(n);
    let params = GaussianMixtureParams::new(4).n_init(2).max_iter(20).seed(9);
    // 7 processes for 6 groups: the last one holds no rows.
    check_spread(&x, 2, &params, None, &[1, 2, 4, 7], "kmeans, n_init 2");
}

#[test]
fn weights_float32_and_reseeds_give_the_same_bits() {
    let n = 3 * GROUP_ROWS + 5_000;
    let x = seed2d(n);
    let w: Vec<f64> = (0..n).map(|i| ((i * 13) % 7) as f64 * 0.25).collect();
    for init in [Init::KMeans, Init::RandomFromData, Init::Random] {
        let what = format!("weighted {:?}", init.method());
        let params = GaussianMixtureParams::new(3)
            .init(init)
            .max_iter(10)
            .seed(1);
        check_spread(&x, 2, &params, Some(&w), &[2, 3], &what);
    }
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let params = GaussianMixtureParams::new(3).max_iter(10).seed(2);
    check_spread(&x32, 2, &params, None, &[2, 4], "float32");
    // A component that starts far from every row empties and is re-seeded
    // at the row of lowest likelihood: an outlier held by the last process.
    let mut x = x;
    x[(n - 5) * 2] = 40.0;
    x[(n - 5) * 2 + 1] = -40.0;
    let three = GaussianMixtureParams::new(3)
        .max_iter(5)
        .fit(DataView::new(&x[..40_000], 20_000, 2).unwrap())
        .unwrap()
        .model;
    let mut means = three.means().to_vec();
    means.extend([1e4, 1e4]);
    let mut covariances = three.covariances().to_vec();
    covariances.extend([1.0, 0.0, 0.0, 1.0]);
    let given = gmm::GaussianMixture::from_parameters(
        CovarianceType::Full,
        4,
        2,
        vec![0.25; 4],
        means,
        covariances,
    )
    .unwrap();
    let params = GaussianMixtureParams::new(4)
        .init(Init::Given(given))
        .reseed_collapsed(true)
        .max_iter(8);
    let alone = check_spread(&x, 2, &params, None, &[3], "re-seeded");
    assert!(
        alone.report.reseeds.iter().any(|r| r.row as usize == n - 5),
        "the outlier held by the last process was not the re-seed: {:?}",
        alone.report.reseeds
    );
}

#[test]
fn bad_data_on_one_process_fails_every_process_with_its_message() {
    let n = 3 * GROUP_ROWS;
    let mut x = seed2d(n);
    let bad_row = 2 * GROUP_ROWS + 17;
    x[bad_row * 2 + 1] = f64::NAN;
    let errors: Vec<Error> = on_processes(3, |member| {
        let rows = share(n, 3, member.rank);
        let local = DataView::new(&x[rows.start * 2..rows.end * 2], rows.len(), 2).unwrap();
        let spread = Spread::new(member, local, rows.start, n).unwrap();
        GaussianMixtureParams::new(3).fit(&spread).unwrap_err()
    });
    let ErrorKind::NonFiniteData { row, column } = errors[2].kind() else {
        panic!("rank 2: {}", errors[2]);
    };
    assert_eq!((*row, *column), (bad_row, 1));
    for e in &errors[..2] {
        let ErrorKind::OtherProcess { rank, message } = e.kind() else {
            panic!("{e}");
        };
        assert_eq!(*rank, 2);
        assert_eq!(message, &errors[2].to_string());
    }
}

#[test]
fn shares_that_do_not_tile_the_rows_are_refused_on_every_process() {
    let n = 2 * GROUP_ROWS;
    let x = seed2d(n);
    // Rank 1 claims rows starting off a group boundary.
    let results = on_processes(2, |member| {
        let (start, end) = if member.rank == 0 {
            (0, 1000)
        } else {
            (1000, n)
        };
        let local = DataView::new(&x[start * 2..end * 2], end - start, 2).unwrap();
        Spread::new(member, local, start, n).map(|s| s.n_samples())
    });
    for r in results {
        let e = r.unwrap_err();
        assert!(e.to_string().contains("multiple of"), "{e}");
    }
}

#[test]
fn score_is_collective_and_predict_covers_the_rows_held() {
    let n = 3 * GROUP_ROWS + 99;
    let x = seed2d(n);
    let data = DataView::new(&x, n, 2).unwrap();
    let model = GaussianMixtureParams::new(3)
        .max_iter(5)
        .fit(data)
        .unwrap()
        .model;
    let (score, labels) = (model.score(data).unwrap(), model.predict(data).unwrap());
    let results = on_processes(2, |member| {
        let rows = share(n, 2, member.rank);
        let spread = Spread::within(member, data, rows.clone()).unwrap();
        let local = model.predict(&spread).unwrap();
        (model.score(&spread).unwrap(), local, rows)
    });
    for (s, local, rows) in results {
        assert_eq!(s, score);
        assert_eq!(local, labels[rows].to_vec());
    }
}

/// Past 64 blocks (524,288 rows) the k-means init seeds and first iterates
/// on a sample of whole blocks gathered from every process: weighted,
/// float32 and uneven shares give the single-process bits.
#[test]
fn the_sampled_kmeans_init_gives_the_same_bits_on_any_number_of_processes() {
    let n = 5 * GROUP_ROWS + 31;
    assert!(n > 64 * gmm::BLOCK_ROWS, "the sample must be in use");
    let x = seed2d(n);
    let w: Vec<f64> = (0..n).map(|i| 0.5 + ((i * 7) % 5) as f64 * 0.25).collect();
    let params = GaussianMixtureParams::new(3).max_iter(6).seed(4);
    check_spread(&x, 2, &params, Some(&w), &[2, 3], "sampled, weighted");
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    check_spread(&x32, 2, &params, None, &[1, 4], "sampled, float32");
}
