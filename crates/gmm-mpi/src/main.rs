//! `gmm-mpi`: `mpirun -np P gmm-mpi fit DATA -k K ...` (see `gmm-mpi --help`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(universe) = gmm_mpi::initialize() else {
        eprintln!(
            "error: MPI could not be initialised with MPI_THREAD_SERIALIZED: use an MPI \
             library built with thread support (Open MPI is)"
        );
        return ExitCode::from(1);
    };
    let comm = gmm_mpi::Mpi::new(universe.world());
    let code = gmm_cli::main_spread(&comm);
    // MPI_Finalize before the exit.
    drop(comm);
    drop(universe);
    code
}
