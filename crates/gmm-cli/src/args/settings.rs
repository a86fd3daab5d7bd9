//! Raw flag values to typed settings, in one place.

use std::path::Path;

use anyhow::{Context, Result, bail};
use gmm_core::{CovarianceType, Init, InitMethod};

/// `--init`: a method name, or a model file to start from.
pub fn parse_init(s: &str) -> Result<Init> {
    if let Some(init) = s.parse::<InitMethod>().ok().and_then(Option::<Init>::from) {
        return Ok(init);
    }
    Ok({
        let path = s;
        {
            let p = Path::new(path);
            if !p.exists() {
                bail!(
                    "--init '{path}' is neither a method (kmeans, k-means++, random-from-data, random) \
                     nor an existing model file"
                );
            }
            Init::Given(gmm_io::load_model(p).context("cannot use it as --init")?)
        }
    })
}

/// Most values of K one `select` compares.
const MAX_CANDIDATES: usize = 10_000;

/// Parses `1..10` (inclusive), `2,4,8` or `3`.
pub fn parse_components(s: &str) -> Result<Vec<usize>> {
    let bad = || {
        anyhow::anyhow!(
            "--components '{s}' is not a range like 1..10, a list like 2,4,8, or a number"
        )
    };
    let ks: Vec<usize> = if let Some((a, b)) = s.split_once("..") {
        let (a, b): (usize, usize) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a > b {
            bail!("--components '{s}' is an empty range: write the smaller count first");
        }
        if b - a >= MAX_CANDIDATES {
            bail!(
                "--components '{s}' asks for {} candidates; at most {MAX_CANDIDATES} can be \
                 compared in one run: give a narrower range or a list like 2,4,8,16",
                (b - a) as u128 + 1
            );
        }
        (a..=b).collect()
    } else {
        s.split(',')
            .map(|p| p.trim().parse().map_err(|_| bad()))
            .collect::<Result<_>>()?
    };
    if ks.contains(&0) {
        bail!("--components '{s}' includes 0: every candidate needs at least one component");
    }
    Ok(ks)
}

/// `--covariance` of `select`: a list such as `full,diag`, or `all`.
pub fn parse_covariances(s: &str) -> Result<Vec<CovarianceType>> {
    if s == "all" {
        return Ok(CovarianceType::ALL.to_vec());
    }
    Ok(s.split(',')
        .map(|t| t.trim().parse())
        .collect::<std::result::Result<_, _>>()?)
}

/// clap value parsers for the flags whose values are words or ranges, so
/// that a bad value is a usage error (exit 2, clap's message) like any other,
/// not a failure of the command. Each checks the value and keeps its text;
/// the command turns it into a setting.
pub(crate) mod check {
    use gmm_core::{CovarianceType, Criterion, Preset};

    /// The value's text if `parsed` (what the command will parse it into)
    /// succeeded, else the parser's message.
    fn keep<T, E: std::fmt::Display>(s: &str, parsed: Result<T, E>) -> Result<String, String> {
        parsed.map(|_| s.to_string()).map_err(|e| e.to_string())
    }

    /// `--criterion`: bic or aic.
    pub fn criterion(s: &str) -> Result<String, String> {
        keep(s, s.parse::<Criterion>())
    }

    /// `--covariance` of `fit`: one type.
    pub fn covariance(s: &str) -> Result<String, String> {
        keep(s, s.parse::<CovarianceType>())
    }

    /// `--covariance` of `select`: a list of types, or `all`.
    pub fn covariances(s: &str) -> Result<String, String> {
        keep(s, super::parse_covariances(s))
    }

    /// `--components` of `select`.
    pub fn components(s: &str) -> Result<String, String> {
        keep(s, super::parse_components(s))
    }

    /// `--preset` of `generate`.
    pub fn preset(s: &str) -> Result<String, String> {
        keep(s, s.parse::<Preset>())
    }

    /// `--delimiter` of `convert`: one ASCII character, or `tab`.
    pub fn delimiter(s: &str) -> Result<u8, String> {
        match s {
            "tab" | "\\t" => Ok(b'\t'),
            d if d.len() == 1 && d.is_ascii() => Ok(d.as_bytes()[0]),
            _ => Err("give one ASCII character, or 'tab'".to_string()),
        }
    }
}
