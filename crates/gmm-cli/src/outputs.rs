//! Checks on output paths before anything is written.

use std::path::Path;

use anyhow::{Result, bail};

/// Refuses to write an output over one of the inputs.
pub(crate) fn check_not_input(out: &Path, inputs: &[&Path]) -> Result<()> {
    let Ok(out_c) = out.canonicalize() else {
        return Ok(()); // does not exist yet
    };
    for input in inputs {
        if input.canonicalize().ok().as_deref() == Some(out_c.as_path()) {
            bail!(
                "refusing to write {} over an input file: choose another output path",
                out.display()
            );
        }
    }
    Ok(())
}

/// Refuses two outputs with the same path.
pub(crate) fn check_distinct(outputs: &[Option<&Path>]) -> Result<()> {
    let given: Vec<&Path> = outputs.iter().flatten().copied().collect();
    for (i, a) in given.iter().enumerate() {
        if given[..i].contains(a) {
            bail!(
                "{} is given for two outputs: give each output its own path",
                a.display()
            );
        }
    }
    Ok(())
}
