//! Fits whose rows are spread over several processes (MPI ranks, say), with
//! the bits of the single-process fit.
//!
//! Every pass of a fit maps the fixed blocks of rows and folds their results
//! in block order (`blocks.rs`); the E-step folds its blocks into partials of
//! a fixed group of [`GROUP_ROWS`] rows first, then the partials in order.
//! A [`Spread`] holds one process's contiguous, group-aligned share of the
//! rows: each pass maps the blocks (or groups) held here, the processes
//! exchange the per-block (per-group) results through a [`Collective`], and
//! every process folds all of them in the single-process order and runs the
//! same M-step. The sequence of floating-point operations, and so every bit
//! of the model, is that of the fit on one machine, whatever the number of
//! processes. A row needed everywhere (a k-means++ seed, a re-seeded
//! component's mean) is sent by the process that holds it.
//!
//! The sums (the E-step's statistics, Lloyd's centres) are folded along a
//! chain: each process receives the fold of the processes before it, folds
//! its own groups (blocks) onto it in order and sends it on; the last one
//! broadcasts the total. Each process sends and receives one set of
//! statistics per iteration (`K (1 + D + D^2)` numbers for full covariances)
//! plus the broadcast, whatever `N`, and holds its own partials only.
//! The k-means++ seeding all-gathers a few numbers per block (the blocks'
//! potentials), which its draws need.
//!
//! ```
//! use gmm_core::distributed::{Collective, Spread};
//! use gmm_core::{DataView, GaussianMixtureParams, Preset};
//!
//! /// One process: the collective operations are the identity.
//! struct Alone;
//! impl Collective for Alone {
//!     fn size(&self) -> usize { 1 }
//!     fn rank(&self) -> usize { 0 }
//!     fn all_gather(&self, local: &[f64]) -> Vec<f64> { local.to_vec() }
//!     fn broadcast(&self, _root: usize, _values: &mut [f64]) {}
//!     fn send(&self, _to: usize, _values: &[f64]) { unreachable!("alone") }
//!     fn receive(&self, _from: usize, _values: &mut [f64]) { unreachable!("alone") }
//! }
//!
//! let x = Preset::Seed2d.generate(Some(5_000), 1);
//! let data = DataView::new(&x, 5_000, 2).unwrap();
//! let spread = Spread::new(&Alone, data, 0, 5_000).unwrap();
//! let a = GaussianMixtureParams::new(3).fit(&spread).unwrap();
//! let b = GaussianMixtureParams::new(3).fit(data).unwrap();
//! assert_eq!(a.model.means(), b.model.means());
//! ```

use crate::blocks::{BLOCK_ROWS, n_blocks};
use crate::data::{ColumnView, DataView, Piece, Rows};
use crate::error::{ErrorKind, Result};

/// Rows per group of the E-step's two-level fold: the alignment of every
/// process's share of the rows. A constant, never derived from the number of
/// threads or processes.
pub const GROUP_ROWS: usize = crate::blocks::MERGE_GROUP_BLOCKS * BLOCK_ROWS;

/// The communication a spread fit needs: an all-gather and a broadcast of
/// `f64`s among the processes of one fit (an MPI communicator, say).
///
/// Every process must make the same calls in the same order, as with MPI
/// collectives; the fit does, since every process runs the same steps on the
/// same exchanged values. Calls are made from the thread that runs the fit,
/// one at a time.
pub trait Collective: Sync {
    /// Number of processes.
    fn size(&self) -> usize;
    /// This process's index, `0..size()`. Shares of rows follow rank order.
    fn rank(&self) -> usize;
    /// Every process's `local` values, concatenated in rank order (their
    /// lengths may differ), on every process.
    fn all_gather(&self, local: &[f64]) -> Vec<f64>;
    /// Process `root`'s `values`, written into `values` on every process
    /// (the same length everywhere).
    fn broadcast(&self, root: usize, values: &mut [f64]);
    /// Sends `values` to process `to`, which receives them with
    /// [`Collective::receive`] (in the order sent).
    fn send(&self, to: usize, values: &[f64]);
    /// Receives into `values` what process `from` sent (the same length).
    fn receive(&self, from: usize, values: &mut [f64]);
}

/// The processes of a spread fit and where their shares start.
struct Net<'a> {
    comm: &'a dyn Collective,
    /// First global row of each rank's share, and `N` at the end.
    starts: Vec<usize>,
}

impl Net<'_> {
    fn owner(&self, row: usize) -> usize {
        // The last rank whose share starts at or before `row` and is not empty.
        self.starts.partition_point(|&s| s <= row).saturating_sub(1)
    }
}

/// Which rows a pass maps here, and how results reach the other processes.
/// Every [`Rows`] has one ([`Rows::scope`]): all rows, alone, unless it is a
/// [`Spread`].
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    n: usize,
    start: usize,
    end: usize,
    net: Option<&'a Net<'a>>,
}

impl std::fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("n", &self.n)
            .field("local", &(self.start..self.end))
            .field("spread", &self.net.is_some())
            .finish()
    }
}

impl Scope<'_> {
    /// All `n` rows, in this process.
    pub fn whole(n: usize) -> Scope<'static> {
        Scope {
            n,
            start: 0,
            end: n,
            net: None,
        }
    }

    /// Whether the rows are spread over several processes.
    pub(crate) fn is_spread(&self) -> bool {
        self.net.is_some()
    }

    /// The global rows mapped here.
    pub(crate) fn local(&self) -> (usize, usize) {
        (self.start, self.end)
    }

    /// The blocks mapped here (`start..end` in block indices).
    pub(crate) fn local_blocks(&self) -> (usize, usize) {
        if self.start >= self.end {
            return (0, 0);
        }
        (self.start / BLOCK_ROWS, n_blocks(self.end))
    }

    /// Every process's `local` values in rank order (the identity alone).
    pub(crate) fn gather(&self, local: Vec<f64>) -> Vec<f64> {
        match self.net {
            None => local,
            Some(net) => net.comm.all_gather(&local),
        }
    }

    /// Row `i` (global) as `f64`s on every process, sent by its holder.
    pub(crate) fn fetch_row<D: Rows + ?Sized>(&self, data: &D, i: usize, out: &mut [f64]) {
        match self.net {
            None => data.copy_row(i, out),
            Some(net) => {
                let owner = net.owner(i);
                if owner == net.comm.rank() {
                    data.copy_row(i, out);
                }
                net.comm.broadcast(owner, out);
            }
        }
    }

    /// `f()` computed by the holder of global row `row`, on every process
    /// (an index below 2^53).
    pub(crate) fn on_holder(&self, row: usize, f: impl FnOnce() -> usize) -> usize {
        match self.net {
            None => f(),
            Some(net) => {
                let owner = net.owner(row);
                let mut v = [0.0];
                if owner == net.comm.rank() {
                    v[0] = f() as f64;
                }
                net.comm.broadcast(owner, &mut v);
                v[0] as usize
            }
        }
    }

    /// `fold_local(acc)` on every process in rank order, each starting from
    /// the previous one's result (the first from `acc` as given); the last
    /// result in `acc` everywhere. `acc` has the same length on every
    /// process. Alone: `fold_local(acc)`.
    pub(crate) fn chain(&self, acc: &mut [f64], fold_local: impl FnOnce(&mut [f64])) {
        let Some(net) = self.net else {
            fold_local(acc);
            return;
        };
        let (me, size) = (net.comm.rank(), net.comm.size());
        if me > 0 {
            net.comm.receive(me - 1, acc);
        }
        fold_local(acc);
        if me + 1 < size {
            net.comm.send(me + 1, acc);
        }
        net.comm.broadcast(size - 1, acc);
    }

    /// Whether `flag` is set on any process (a stop request, say).
    pub(crate) fn any(&self, flag: bool) -> bool {
        match self.net {
            None => flag,
            Some(net) => net
                .comm
                .all_gather(&[if flag { 1.0 } else { 0.0 }])
                .iter()
                .any(|&f| f != 0.0),
        }
    }

    /// `local` if every process succeeded; otherwise the error of the first
    /// process that failed, on every process ([`ErrorKind::OtherProcess`] on
    /// the others).
    pub(crate) fn agree(&self, local: Result<()>) -> Result<()> {
        let Some(net) = self.net else {
            return local;
        };
        let text = local.as_ref().err().map(|e| e.to_string());
        match agree(net.comm, text) {
            Some((rank, message)) if rank != net.comm.rank() => {
                Err(ErrorKind::OtherProcess { rank, message }.into())
            }
            _ => local,
        }
    }
}

/// Whether every process succeeded: `None`, or the rank and error message of
/// the first process that failed (`local` is this process's message, `None`
/// when it succeeded), on every process. Collective.
///
/// A step that may fail on some processes only (opening a file, checking the
/// rows held) is followed by this, so that either all processes go on or all
/// stop, and the failure is reported once.
pub fn agree(comm: &dyn Collective, local: Option<String>) -> Option<(usize, String)> {
    let failed = comm.all_gather(&[if local.is_some() { 1.0 } else { 0.0 }]);
    let first = failed.iter().position(|&f| f != 0.0)?;
    let text = if comm.rank() == first {
        local.unwrap_or_default()
    } else {
        String::new()
    };
    let mut len = [text.len() as f64];
    comm.broadcast(first, &mut len);
    let mut bytes: Vec<f64> = text.bytes().map(f64::from).collect();
    bytes.resize(len[0] as usize, 0.0);
    comm.broadcast(first, &mut bytes);
    let bytes: Vec<u8> = bytes.iter().map(|&b| b as u8).collect();
    Some((first, String::from_utf8_lossy(&bytes).into_owned()))
}

/// One process's share of rows spread over the processes of a
/// [`Collective`]: a [`Rows`] whose row indices are global (`0..N` over all
/// processes) and whose passes map only the rows held here. Fit it with the
/// usual [`crate::GaussianMixtureParams::fit`] on every process, with the
/// same parameters (and the same full-length sample weights, if any): every
/// process returns the model of the single-process fit, bit for bit.
///
/// Shares follow rank order, and each starts at a multiple of
/// [`GROUP_ROWS`] (an empty share is allowed). Fitting,
/// [`crate::SufficientStats::compute`], `score`, `bic` and `aic` are
/// collective (every process calls them, and gets the all-rows result); the
/// per-row outputs (`predict`, `predict_proba`, ...) of a model on a
/// `Spread` cover the rows held here.
pub struct Spread<'a, D> {
    data: D,
    /// Global index of `data`'s first row.
    offset: usize,
    start: usize,
    end: usize,
    n: usize,
    net: Net<'a>,
}

impl<'a, D: Rows> Spread<'a, D> {
    /// This process's rows `local_rows`, which are the global rows
    /// `global_offset..global_offset + local_rows.n_samples()` of `global_n`.
    /// Collective: every process calls it, in the same order as the others'
    /// collective calls; the shares are checked to tile `0..global_n` in rank
    /// order, each starting at a multiple of [`GROUP_ROWS`].
    pub fn new(
        comm: &'a dyn Collective,
        local_rows: D,
        global_offset: usize,
        global_n: usize,
    ) -> Result<Self> {
        let end = global_offset.saturating_add(local_rows.n_samples());
        Self::build(
            comm,
            local_rows,
            global_offset,
            global_offset,
            end,
            global_n,
        )
    }

    /// The global rows `local.start..local.end` of `all_rows` (every row,
    /// memory-mapped, say: only the pages of `local` are read). Collective,
    /// as [`Spread::new`].
    pub fn within(
        comm: &'a dyn Collective,
        all_rows: D,
        local: std::ops::Range<usize>,
    ) -> Result<Self> {
        let n = all_rows.n_samples();
        Self::build(comm, all_rows, 0, local.start, local.end, n)
    }

    fn build(
        comm: &'a dyn Collective,
        data: D,
        offset: usize,
        start: usize,
        end: usize,
        n: usize,
    ) -> Result<Self> {
        let bad = |what: String| -> Result<Self> { Err(ErrorKind::Unsupported { what }.into()) };
        let local_ok =
            start <= end && end <= n && (start.is_multiple_of(GROUP_ROWS) || start == end);
        let ranges = comm.all_gather(&[
            start as f64,
            end as f64,
            n as f64,
            if local_ok { 1.0 } else { 0.0 },
        ]);
        let size = comm.size();
        if ranges.len() != 4 * size {
            return bad(format!(
                "the collective gathered {} values from {size} processes, expected {}",
                ranges.len(),
                4 * size
            ));
        }
        let mut starts = Vec::with_capacity(size + 1);
        let mut next = 0usize;
        for (r, v) in ranges.chunks_exact(4).enumerate() {
            let (s, e, total, ok) = (v[0] as usize, v[1] as usize, v[2] as usize, v[3] != 0.0);
            if total != n {
                return bad(format!(
                    "process {r} was given {total} rows in all, process {} {n}: give every \
                     process the same global number of rows",
                    comm.rank()
                ));
            }
            if !ok {
                return bad(format!(
                    "the share of process {r} (rows {s}..{e} of {total}) does not start at a \
                     multiple of {GROUP_ROWS} rows: split the rows at multiples of \
                     gmm_core::distributed::GROUP_ROWS"
                ));
            }
            if s != next && s != e {
                return bad(format!(
                    "the share of process {r} starts at row {s}, but the shares before it end \
                     at row {next}: give the processes contiguous shares in rank order"
                ));
            }
            starts.push(next);
            next = next.max(e);
        }
        if next != n {
            return bad(format!(
                "the processes' shares cover rows 0..{next} of {n}: every row must be held by \
                 one process"
            ));
        }
        starts.push(n);
        // An empty share owns nothing: point its start past the rows it would claim.
        for r in (0..size).rev() {
            let v = &ranges[4 * r..4 * r + 4];
            if v[0] == v[1] {
                starts[r] = starts[r + 1];
            }
        }
        Ok(Spread {
            data,
            offset,
            start,
            end,
            n,
            net: Net { comm, starts },
        })
    }

    /// The global rows held here.
    pub fn local_rows(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

impl<D: Rows> Rows for Spread<'_, D> {
    type Elem = D::Elem;
    fn n_samples(&self) -> usize {
        self.n
    }
    fn n_features(&self) -> usize {
        self.data.n_features()
    }
    #[inline]
    fn copy_row(&self, i: usize, out: &mut [f64]) {
        debug_assert!(
            (self.start..self.end).contains(&i),
            "row {i} is not held here"
        );
        self.data.copy_row(i - self.offset, out)
    }
    fn for_each_piece(&self, lo: usize, hi: usize, f: &mut dyn FnMut(Piece<'_, D::Elem>)) {
        self.data
            .for_each_piece(lo - self.offset, hi - self.offset, f)
    }
    #[inline]
    fn contiguous(&self, lo: usize, hi: usize) -> Option<DataView<'_, D::Elem>> {
        self.data.contiguous(lo - self.offset, hi - self.offset)
    }
    #[inline]
    fn column_view(&self, lo: usize, hi: usize) -> Option<ColumnView<'_, D::Elem>> {
        self.data.column_view(lo - self.offset, hi - self.offset)
    }
    fn scope(&self) -> Scope<'_> {
        Scope {
            n: self.n,
            start: self.start,
            end: self.end,
            net: Some(&self.net),
        }
    }
}

/// The share of `n` rows of process `rank` of `size`: whole groups of
/// [`GROUP_ROWS`] rows, split as evenly as whole groups allow, in rank order
/// (later ranks get the empty shares when there are fewer groups than
/// processes).
///
/// ```
/// use gmm_core::distributed::{GROUP_ROWS, share};
/// let n = 3 * GROUP_ROWS + 10;
/// assert_eq!(share(n, 2, 0), 0..2 * GROUP_ROWS);
/// assert_eq!(share(n, 2, 1), 2 * GROUP_ROWS..n);
/// assert_eq!(share(100, 2, 1), 100..100);
/// ```
pub fn share(n: usize, size: usize, rank: usize) -> std::ops::Range<usize> {
    let groups = n.div_ceil(GROUP_ROWS);
    let size = size.max(1);
    let at = |r: usize| ((groups * r / size) * GROUP_ROWS).min(n);
    if groups < size {
        // One group per rank, in order.
        let start = (rank * GROUP_ROWS).min(n);
        return start..((rank + 1) * GROUP_ROWS).min(n);
    }
    at(rank)..at(rank + 1)
}
