#![forbid(unsafe_code)]
//! The `gmm` command line (all logic lives in the `gmm-cli` crate).

fn main() -> std::process::ExitCode {
    gmm_cli::main()
}
