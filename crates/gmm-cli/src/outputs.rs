//! Outputs checked and prepared before the first pass over the data.

use std::path::Path;

use anyhow::Result;
use gmm_io::Output;

/// Checks every output against every input and each other (see
/// [`gmm_io::check_outputs`]) and prepares them all, so that a bad output
/// path fails before any work, and nothing is written if any is bad.
/// Returns the outputs in the order given (`None` where none was asked).
pub(crate) fn prepare(outputs: &[Option<&Path>], inputs: &[&Path]) -> Result<Vec<Option<Output>>> {
    let given: Vec<&Path> = outputs.iter().flatten().copied().collect();
    gmm_io::check_outputs(&given, inputs)?;
    outputs
        .iter()
        .map(|o| o.map(Output::prepare).transpose().map_err(Into::into))
        .collect()
}
