//! The one module with `unsafe`: an MPI communicator as a
//! [`gmm_core::distributed::Collective`].

use gmm_core::distributed::Collective;
use mpi::datatype::PartitionMut;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

/// An MPI communicator (`MPI_COMM_WORLD`, or any other) for a spread fit.
///
/// MPI must be initialised with at least `MPI_THREAD_SERIALIZED` (see
/// [`crate::initialize`]): the fit calls the collectives from the thread that
/// runs it, which may be a rayon worker rather than the main thread, one call
/// at a time.
pub struct Mpi {
    comm: SimpleCommunicator,
    rank: usize,
    size: usize,
}

impl Mpi {
    /// Wraps `comm`.
    pub fn new(comm: SimpleCommunicator) -> Self {
        let (rank, size) = (comm.rank() as usize, comm.size() as usize);
        Mpi { comm, rank, size }
    }

    /// The communicator.
    pub fn communicator(&self) -> &SimpleCommunicator {
        &self.comm
    }
}

// SAFETY: `Collective` requires `Sync` because a spread `Rows` is shared with
// the rayon workers of a pass. The workers only read rows; every MPI call is
// made by the one thread that drives the fit, one at a time, and never
// concurrently with another MPI call on this communicator, which is what
// `MPI_THREAD_SERIALIZED` (checked by `crate::initialize`) allows. The
// communicator handle itself is an immutable value once created.
#[allow(unsafe_code)]
unsafe impl Sync for Mpi {}
// SAFETY: as above: moving the handle to the thread that drives the fit is
// allowed under `MPI_THREAD_SERIALIZED`.
#[allow(unsafe_code)]
unsafe impl Send for Mpi {}

impl Collective for Mpi {
    fn size(&self) -> usize {
        self.size
    }

    fn rank(&self) -> usize {
        self.rank
    }

    fn all_gather(&self, local: &[f64]) -> Vec<f64> {
        let len = i32::try_from(local.len()).expect("fewer than 2^31 values per process");
        let mut counts = vec![0i32; self.size];
        self.comm.all_gather_into(&len, &mut counts[..]);
        let mut displs = Vec::with_capacity(self.size);
        let mut total = 0i64;
        for &c in &counts {
            displs.push(i32::try_from(total).expect("fewer than 2^31 values in all"));
            total += i64::from(c);
        }
        let mut out = vec![0.0; total as usize];
        {
            let mut part = PartitionMut::new(&mut out[..], &counts[..], &displs[..]);
            self.comm.all_gather_varcount_into(local, &mut part);
        }
        out
    }

    fn broadcast(&self, root: usize, values: &mut [f64]) {
        self.comm
            .process_at_rank(root as i32)
            .broadcast_into(values);
    }

    fn send(&self, to: usize, values: &[f64]) {
        self.comm.process_at_rank(to as i32).send(values);
    }

    fn receive(&self, from: usize, values: &mut [f64]) {
        let _status = self.comm.process_at_rank(from as i32).receive_into(values);
    }
}
