//! # gmm-cli
//!
//! The `gmm` command line: argument parsing and the commands. The binary
//! itself (`src/main.rs` of the `gmm` package) only calls [`main`].
//!
//! Errors are printed as one line, `error: ...`, with exit code 1 (2 for
//! usage errors); outputs are written atomically, and never over an input.
//! A fit stopped by Ctrl-C (SIGTERM) writes its model and exits with code
//! 130 (143); a closed pipe on standard output ends the command quietly.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// `eprintln!` that ignores a failed write: standard error may be a pipe
/// whose reader has gone (`gmm fit ... 2>&1 >/dev/null | true`), and a
/// message that cannot be shown is no reason to panic or to change the exit
/// code (ripgrep's habit).
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod cmd;
mod outputs;
mod plot;
mod progress;
mod signals;
mod spread;

use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;
pub use spread::{SpreadCli, SpreadCommand, main_spread};

/// Parses `std::env::args`, runs the command, prints any error as one line.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            note!("{}", usage_line(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    match cmd::run(cli) {
        Ok(cmd::Outcome::Done) => ExitCode::SUCCESS,
        // Ctrl-C: the outputs were written, the fit stopped early.
        Ok(cmd::Outcome::Interrupted) => ExitCode::from(signals::exit_code()),
        // The reader of our output went away (`gmm ... | head`): exit quietly,
        // as ripgrep does.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            note!("error: {}", one_line(&e));
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<gmm_io::Error>()
            .is_some_and(gmm_io::Error::is_broken_pipe)
            || c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// clap's usage error as one line: its first line, then where to look.
fn usage_line(rendered: &str) -> String {
    let first: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let first = if first.is_empty() {
        "error: invalid usage".to_string()
    } else {
        first.join(" ")
    };
    let tip = rendered
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("tip:"))
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    printable(&format!("{first}{tip}; see 'gmm --help'"))
}

/// The error and its causes on one line, each message once, with control
/// characters escaped (see [`printable`]).
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    printable(&parts.join(": "))
}

/// `text` with every control character (ESC, newline, NUL, DEL...) written
/// as a Rust escape (`\u{1b}`, `\n`, `\0`): names and cells read from a file
/// reach the terminal as text, never as commands, and a message stays one
/// line.
pub(crate) fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
