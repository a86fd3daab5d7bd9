//! The library side of gmm-mpi: every process makes its own share of the rows
//! in memory (as a simulation or a pipeline stage would) and fits with
//! `gmm_mpi::fit`; process 0 prints the model JSON.
//!
//! ```text
//! mpirun -np 4 target/release/examples/in_memory [N] [K]
//! ```

use std::process::ExitCode;

use gmm_core::distributed::{Collective, share};
use gmm_core::{DataView, GaussianMixtureParams, Preset};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map_or(600_000, |a| a.parse().expect("N: a number of rows"));
    let k: usize = args
        .next()
        .map_or(3, |a| a.parse().expect("K: a number of components"));
    let Some(universe) = gmm_mpi::initialize() else {
        eprintln!("error: MPI could not be initialised with MPI_THREAD_SERIALIZED");
        return ExitCode::from(1);
    };
    let comm = gmm_mpi::Mpi::new(universe.world());
    let rows = share(n, comm.size(), comm.rank());
    // This process keeps its rows only (here cut from seeded synthetic data,
    // the same on every process, so that the fit can be checked).
    let local: Vec<f64> =
        Preset::Seed2d.generate(Some(n), 11)[rows.start * 2..rows.end * 2].to_vec();
    let data = DataView::new(&local, rows.len(), 2).expect("a well-formed share");
    match gmm_mpi::fit(&comm, &GaussianMixtureParams::new(k), data, rows.start, n) {
        Ok(fit) if comm.rank() == 0 => {
            println!("{}", gmm_io::model_to_json(&fit.model));
            ExitCode::SUCCESS
        }
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            if comm.rank() == 0 {
                eprintln!("error: {e}");
            }
            ExitCode::from(1)
        }
    }
}
