//! The verbs: one file per group, dispatched from [`run`].

mod data;
mod fit;

pub(crate) use fit::fit_on;
mod model;
mod picture;
mod select;

use std::path::Path;

use anyhow::{Context, Result};

use crate::args::{Cli, Command};

/// How a command that ran without error ended.
pub enum Outcome {
    /// It did all it was asked.
    Done,
    /// Ctrl-C stopped it early; its outputs were still written.
    Interrupted,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<Outcome> {
    let done = |r: Result<()>| r.map(|()| Outcome::Done);
    match cli.command {
        Command::Fit(a) => fit::fit(a),
        Command::Select(a) => done(select::select(a)),
        Command::Predict(a) => done(model::predict(a)),
        Command::Score(a) => done(model::score(a)),
        Command::Sample(a) => done(model::sample(a)),
        Command::Plot(a) => done(picture::plot(a)),
        Command::Demo(a) => done(picture::demo(a)),
        Command::Generate(a) => done(data::generate(a)),
        Command::Info(a) => done(data::info(a)),
        Command::Convert(a) => done(data::convert(a)),
    }
}

pub(crate) fn load_model_arg(path: &Path) -> Result<gmm_core::GaussianMixture> {
    gmm_io::load_model(path).context("cannot use the model")
}
