//! Integration tests of the gmm workspace (one binary, to keep builds short).

mod bad_input;
mod cli;
mod columnar;
mod common;
mod degenerate;
mod engine;
mod fit_control;
mod io;
mod parity;
mod precision;
mod select;
mod spread;
mod weights;
