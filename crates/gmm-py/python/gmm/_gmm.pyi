"""Type stubs of the Rust extension ``gmm._gmm`` (PyO3).

Arrays are returned flat (row-major); ``gmm.GaussianMixture`` reshapes them.
``x`` is any 2-D array-like; C-contiguous float64/float32 arrays, read-only
arrays and ``np.memmap``s are read in place, others are converted once.
"""

from typing import Any, Callable, Optional, Tuple

import numpy as np
import numpy.typing as npt

BLOCK_ROWS: int

class Model:
    """A fitted (or given) mixture: the engine's model."""

    def __init__(
        self,
        covariance_type_name: str,
        n_components: int,
        n_features: int,
        weights: list[float],
        means: list[float],
        covariances: list[float],
    ) -> None: ...
    @property
    def covariance_type(self) -> str: ...
    @property
    def n_components(self) -> int: ...
    @property
    def n_features(self) -> int: ...
    @property
    def weights(self) -> npt.NDArray[np.float64]: ...
    @property
    def means(self) -> npt.NDArray[np.float64]: ...
    @property
    def covariances(self) -> npt.NDArray[np.float64]: ...
    @property
    def precisions_cholesky(self) -> npt.NDArray[np.float64]: ...
    def score_samples(
        self, x: Any, n_threads: Optional[int]
    ) -> npt.NDArray[np.float64]: ...
    def predict_proba(
        self, x: Any, n_threads: Optional[int]
    ) -> npt.NDArray[np.float64]: ...
    def predict(self, x: Any, n_threads: Optional[int]) -> npt.NDArray[np.int64]: ...
    def statistics(
        self,
        x: Any,
        sample_weight: Optional[npt.NDArray[np.float64]] = None,
        n_threads: Optional[int] = None,
    ) -> "SufficientStats": ...
    def m_step(
        self, stats: "SufficientStats", reg_covar: float, iteration: int = 1
    ) -> "Model": ...
    def sample(
        self, n: int, seed: int
    ) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...
    def with_fit_info(
        self, converged: bool, n_iter: int, lower_bound: float
    ) -> "Model": ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> "Model": ...
    def __reduce__(self) -> Tuple[Any, Tuple[str]]: ...

class SufficientStats:
    """The statistics of an E-step over some rows; merge them in row order."""

    def merge(self, other: "SufficientStats") -> None: ...
    @property
    def n_samples(self) -> float: ...
    @property
    def sum_log_likelihood(self) -> float: ...
    @property
    def mean_log_likelihood(self) -> float: ...
    @property
    def nk(self) -> list[float]: ...
    @property
    def n_components(self) -> int: ...
    @property
    def n_features(self) -> int: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> "SufficientStats": ...
    def __reduce__(self) -> Tuple[Any, Tuple[str]]: ...

def fit(
    x: Any,
    n_components: int,
    covariance_type_name: str,
    tol: float,
    reg_covar: float,
    max_iter: int,
    n_init: int,
    init: str,
    seed: int,
    init_model: Optional[Model] = None,
    sample_weight: Optional[npt.NDArray[np.float64]] = None,
    reseed_collapsed: bool = False,
    n_threads: Optional[int] = None,
    callback: Optional[Callable[[int, int, float, float, float], Optional[bool]]] = None,
    start_lower_bound: Optional[float] = None,
) -> Tuple[Model, str]:
    """Fits a mixture; returns the model and the report JSON of ``gmm fit --report``."""
    ...

def initialise(
    x: Any,
    n_components: int,
    covariance_type_name: str,
    reg_covar: float,
    init: str,
    seed: int,
    restart: int,
    sample_weight: Optional[npt.NDArray[np.float64]] = None,
    n_threads: Optional[int] = None,
) -> Model:
    """The initial model restart ``restart`` of ``fit`` (same seed) starts from."""
    ...
