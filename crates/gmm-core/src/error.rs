//! The error type of the core crate.

use std::fmt;

/// Everything that can go wrong when validating parameters, data or a model,
/// or while fitting.
///
/// The message (`Display`) says what was wrong and what to do about it. Match on
/// [`Error::kind`] to react programmatically.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    kind: ErrorKind,
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A hyper-parameter is out of its domain (e.g. `tol < 0`).
    InvalidParameter {
        /// Name of the parameter, as in the builder.
        name: &'static str,
        /// What was given, formatted.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// The data has no rows.
    EmptyData,
    /// The data has rows but no columns.
    NoFeatures,
    /// The slice length does not equal `n_samples * n_features`.
    ShapeMismatch {
        /// Length of the slice.
        len: usize,
        /// Rows that were claimed.
        n_samples: usize,
        /// Columns that were claimed.
        n_features: usize,
    },
    /// A value in the data is NaN or infinite.
    NonFiniteData {
        /// Zero-based row of the first bad value.
        row: usize,
        /// Zero-based column of the first bad value.
        column: usize,
    },
    /// More components were asked for than there are rows.
    TooFewSamples {
        /// Rows in the data.
        n_samples: usize,
        /// Components asked for.
        n_components: usize,
    },
    /// Data or parameters disagree in dimension with a model or with each other.
    DimensionMismatch {
        /// What disagrees (e.g. "initial means").
        what: String,
        /// The size that was expected.
        expected: usize,
        /// The size that was found.
        found: usize,
    },
    /// A model or initial parameter contains NaN or an infinity.
    NonFiniteParameter {
        /// Which parameter (e.g. "means of component 2").
        what: String,
    },
    /// Mixture weights are negative or do not sum to one.
    InvalidWeights {
        /// Why they are invalid.
        reason: String,
    },
    /// Per-row sample weights that cannot be used: wrong length, negative,
    /// not finite, or too few positive.
    InvalidSampleWeights {
        /// Why they are invalid and what to give instead.
        reason: String,
    },
    /// A covariance given by the user (initial parameters, a model) is not
    /// symmetric positive definite.
    NotPositiveDefinite {
        /// Zero-based component index.
        component: usize,
    },
    /// During EM, the covariance of a component lost positive definiteness
    /// (collapsed onto too few points, or degenerate data).
    SingularCovariance {
        /// Zero-based component index.
        component: usize,
        /// One-based EM iteration during whose M-step it happened (0: initialisation).
        iteration: usize,
        /// The `reg_covar` in use.
        reg_covar: f64,
    },
    /// The fit was stopped (see `FitObserver::stop_requested`) during its
    /// first initialisation, before any model existed.
    Interrupted,
    /// Another process of a spread fit (see [`crate::distributed`]) failed;
    /// it reports its error itself.
    OtherProcess {
        /// The rank of the process that failed first.
        rank: usize,
        /// Its error message.
        message: String,
    },
    /// The fit would need more memory than the system has available.
    OutOfMemory {
        /// What would need it.
        what: String,
        /// Bytes needed (`None`: more than `u64` can count).
        needed: Option<u64>,
        /// Bytes available (`None`: unknown).
        available: Option<u64>,
    },
    /// The requested feature is not available in this version.
    Unsupported {
        /// What was asked for.
        what: String,
    },
}

impl Error {
    /// Creates an error of the given kind.
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind }
    }

    /// The kind of the error.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub(crate) fn invalid(
        name: &'static str,
        value: impl fmt::Display,
        expected: &'static str,
    ) -> Self {
        Self::new(ErrorKind::InvalidParameter {
            name,
            value: value.to_string(),
            expected,
        })
    }

    /// Component `component`'s covariance is not positive definite after the
    /// M-step of `iteration` (0: the initialisation).
    pub(crate) fn singular_covariance(component: usize, iteration: usize, reg_covar: f64) -> Self {
        Self::new(ErrorKind::SingularCovariance {
            component,
            iteration,
            reg_covar,
        })
    }

    /// Checks that `reg_covar` is a finite number `>= 0`.
    pub(crate) fn check_reg_covar(reg_covar: f64) -> Result<()> {
        if reg_covar >= 0.0 && reg_covar.is_finite() {
            Ok(())
        } else {
            Err(Self::invalid(
                "reg_covar",
                reg_covar,
                "a finite number >= 0",
            ))
        }
    }

    pub(crate) fn dimension(what: impl Into<String>, expected: usize, found: usize) -> Self {
        Self::new(ErrorKind::DimensionMismatch {
            what: what.into(),
            expected,
            found,
        })
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind::*;
        match &self.kind {
            InvalidParameter {
                name,
                value,
                expected,
            } => write!(f, "invalid {name} = {value}: expected {expected}"),
            EmptyData => write!(f, "the data has no rows: give at least n_components rows"),
            NoFeatures => write!(
                f,
                "the data has no columns (n_features = 0): give at least one feature"
            ),
            ShapeMismatch {
                len,
                n_samples,
                n_features,
            } => write!(
                f,
                "data of length {len} cannot be {n_samples} rows x {n_features} columns: \
                 the length must equal rows * columns"
            ),
            NonFiniteData { row, column } => write!(
                f,
                "the data contains NaN or infinity, first at row {row}, column {column} (0-based): \
                 remove or impute non-finite values before fitting"
            ),
            TooFewSamples {
                n_samples,
                n_components,
            } => write!(
                f,
                "n_components = {n_components} exceeds the number of rows ({n_samples}): \
                 decrease n_components or give more data"
            ),
            DimensionMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected {expected}, found {found}"),
            NonFiniteParameter { what } => {
                write!(f, "{what} contain NaN or infinity: give finite values")
            }
            InvalidWeights { reason } => write!(f, "invalid mixture weights: {reason}"),
            InvalidSampleWeights { reason } => write!(f, "invalid sample weights: {reason}"),
            NotPositiveDefinite { component } => write!(
                f,
                "the covariance of component {component} is not symmetric positive definite: \
                 give a symmetric matrix with positive eigenvalues"
            ),
            SingularCovariance {
                component,
                iteration,
                reg_covar,
            } => write!(
                f,
                "the covariance of component {component} became singular in EM iteration {iteration} \
                 (collapsed onto too few or duplicated points): increase reg_covar (now {reg_covar}), \
                 decrease n_components, or scale the data"
            ),
            OutOfMemory {
                what,
                needed,
                available,
            } => write!(
                f,
                "{what} would need {} of memory, but {} available: use a simpler covariance \
                 type (diag, spherical), fewer features or fewer components",
                needed.map_or(
                    "more than 2^64 bytes".to_string(),
                    crate::memory::human_bytes
                ),
                available.map_or("less is".to_string(), |a| format!(
                    "only {} are",
                    crate::memory::human_bytes(a)
                ))
            ),
            Interrupted => write!(
                f,
                "the fit was stopped during its initialisation, before any model existed"
            ),
            OtherProcess { rank, message } => write!(f, "process {rank}: {message}"),
            Unsupported { what } => write!(f, "{what}"),
        }
    }
}

impl std::error::Error for Error {}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// For sinks that write with `std::io` (see
/// [`GaussianMixture::predict_proba_streamed`](crate::GaussianMixture::predict_proba_streamed)):
/// the error as an `InvalidData` I/O error with the same message.
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}
