//! Operating a node as systemd and an operator do: readiness notifications, SIGHUP reloads, the
//! log's formats and what it says the registry does, and the command line's basics. One test
//! binary; each topic in its own module under `tests/ops_node/`.

mod cli;
mod logs;
mod notify;
mod reload;
mod support;
