//! # gmm-mpi
//!
//! Gaussian mixture fits whose rows are spread over MPI processes, with the
//! bits of the single-process fit for any number of processes: each process
//! maps the blocks of its share of the rows, the per-block (per-group)
//! results are all-gathered and folded in the single-process order on every
//! process, and every process runs the same M-step (see
//! [`gmm_core::distributed`]).
//!
//! The binary, `gmm-mpi fit`, takes the flags of `gmm fit`:
//!
//! ```text
//! mpirun -np 4 gmm-mpi fit x.npy -k 8 --out model.json --report report.json
//! ```
//!
//! For callers whose processes already hold their rows (a simulation, a
//! pipeline stage), [`fit`]:
//!
//! ```no_run
//! use gmm_core::{DataView, GaussianMixtureParams};
//! use gmm_core::distributed::share;
//!
//! let universe = gmm_mpi::initialize().unwrap();
//! let comm = gmm_mpi::Mpi::new(universe.world());
//! let n = 1_000_000;
//! // This process's rows: a share of whole groups (`share`), in rank order.
//! let rows = share(n, gmm_core::distributed::Collective::size(&comm),
//!                  gmm_core::distributed::Collective::rank(&comm));
//! let local: Vec<f64> = vec![0.5; rows.len() * 2]; // produced here
//! let data = DataView::new(&local, rows.len(), 2).unwrap();
//! let fit = gmm_mpi::fit(&comm, &GaussianMixtureParams::new(3), data, rows.start, n).unwrap();
//! // Every process holds the same model.
//! println!("{:?}", fit.model.means());
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod comm;

pub use comm::Mpi;
use gmm_core::distributed::Spread;
use gmm_core::{Fit, GaussianMixtureParams, Result, Rows};

/// Initialises MPI with `MPI_THREAD_SERIALIZED` (what a fit needs: see
/// [`Mpi`]); `None` if MPI was initialised already, or cannot give that level.
pub fn initialize() -> Option<mpi::environment::Universe> {
    let (universe, level) = mpi::initialize_with_threading(mpi::Threading::Serialized)?;
    (level >= mpi::Threading::Serialized).then_some(universe)
}

/// Fits the rows spread over the processes of `comm`: this process holds
/// `local_rows`, the global rows `global_offset..` of `global_n`. Collective:
/// every process calls it with the same parameters; every process returns the
/// model of the single-process fit of all rows, bit for bit, or the same
/// error (the first failing process's, as
/// [`gmm_core::ErrorKind::OtherProcess`] on the others).
///
/// Shares start at multiples of [`gmm_core::distributed::GROUP_ROWS`] rows
/// and tile `0..global_n` in rank order ([`gmm_core::distributed::share`]
/// gives such a split).
pub fn fit<D: Rows>(
    comm: &Mpi,
    params: &GaussianMixtureParams,
    local_rows: D,
    global_offset: usize,
    global_n: usize,
) -> Result<Fit> {
    params.fit(Spread::new(comm, local_rows, global_offset, global_n)?)
}

/// [`fit`] with sample weights: `weights` holds one weight for each of the
/// `global_n` rows (the same on every process).
pub fn fit_weighted<D: Rows>(
    comm: &Mpi,
    params: &GaussianMixtureParams,
    local_rows: D,
    global_offset: usize,
    global_n: usize,
    weights: &[f64],
) -> Result<Fit> {
    params.fit_weighted(
        Spread::new(comm, local_rows, global_offset, global_n)?,
        weights,
    )
}
