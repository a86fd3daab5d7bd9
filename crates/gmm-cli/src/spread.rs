//! `gmm-mpi fit`: the fit spread over the processes of a [`Collective`]
//! (an MPI communicator in the `gmm-mpi` crate, which only adapts MPI to
//! [`Collective`] and calls [`main_spread`]).
//!
//! Every process runs the same command line. Process 0 alone writes the
//! outputs, draws progress and prints the summary; every step that may fail
//! on some processes only ends with an [`agree`]ment, so that either all go
//! on or all stop, and the first failure is printed once, by the process
//! that saw it, naming it.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use gmm_core::distributed::{self, Collective};

use crate::args::FitArgs;
use crate::cmd::Outcome;

/// Fit Gaussian mixture models with the rows spread over MPI processes:
/// `mpirun -np P gmm-mpi fit DATA -k K ...` writes the bytes `gmm fit`
/// writes, for any P.
#[derive(Debug, Parser)]
#[command(name = "gmm-mpi", version, propagate_version = true)]
pub struct SpreadCli {
    /// The command to run.
    #[command(subcommand)]
    pub command: SpreadCommand,
}

/// The commands of `gmm-mpi`.
#[derive(Debug, Subcommand)]
pub enum SpreadCommand {
    /// Fit a mixture to a .npy dataset (or a directory of shards) that every
    /// process can open; each reads only its share of the rows. The flags
    /// and outputs are those of `gmm fit`; process 0 writes the outputs.
    #[command(after_help = "Example:\n  \
        mpirun -np 4 gmm-mpi fit x.npy --components 8 --out model.json --report report.json")]
    Fit(FitArgs),
}

/// This process's part of a failed step that every process agreed on: the
/// first process that failed prints the error; the others exit quietly.
#[derive(Debug)]
pub(crate) struct FailedElsewhere;

impl std::fmt::Display for FailedElsewhere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("another process failed")
    }
}

impl std::error::Error for FailedElsewhere {}

/// `local` if every process of `comm` succeeded (alone: `local` as it is).
/// Otherwise the first failing process gets its own error, named by its
/// rank when there are several processes, and every other process gets
/// [`FailedElsewhere`]. Collective.
pub(crate) fn agree<T>(comm: Option<&dyn Collective>, local: Result<T>) -> Result<T> {
    let Some(comm) = comm else {
        return local;
    };
    let message = local.as_ref().err().map(crate::one_line);
    match distributed::agree(comm, message) {
        None => local,
        Some((first, _)) if first == comm.rank() => {
            let e = local.err().expect("the first failing process failed");
            // An error the core already named by its process keeps its name.
            let named = e.chain().any(|c| {
                c.downcast_ref::<gmm_core::Error>()
                    .is_some_and(|e| matches!(e.kind(), gmm_core::ErrorKind::OtherProcess { .. }))
            });
            if named || comm.size() == 1 {
                Err(e)
            } else {
                Err(e.context(format!("process {first}")))
            }
        }
        Some(_) => Err(FailedElsewhere.into()),
    }
}

/// Parses `std::env::args` as `gmm-mpi`'s, runs the command on this process
/// of `comm`, and prints any error once (see the module docs).
pub fn main_spread(comm: &dyn Collective) -> ExitCode {
    let root = comm.rank() == 0;
    if !root {
        crate::signals::quiet();
    }
    let cli = match SpreadCli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            if root {
                let _ = e.print();
            }
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            if root {
                let line = crate::usage_line(&e.render().to_string());
                note!("{}", line.replace("'gmm --help'", "'gmm-mpi --help'"));
            }
            return ExitCode::from(2);
        }
    };
    let SpreadCommand::Fit(args) = cli.command;
    match crate::cmd::fit_on(args, Some(comm)) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Interrupted) => ExitCode::from(crate::signals::exit_code()),
        Err(e) if e.downcast_ref::<FailedElsewhere>().is_some() => ExitCode::from(1),
        Err(e) => {
            note!("error: {}", crate::one_line(&e));
            ExitCode::from(1)
        }
    }
}
