//! Operation log rows (spec §10.6) of instance, server and zone operations, and the filters the
//! log endpoints accept.

/// Which log table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Instance,
    Server,
    Zone,
}

/// A log query: every `Some` field must match exactly; `None` (or a blank string, which the API
/// turns into `None`) matches everything, as in Java's DAO.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub region_id: Option<String>,
    pub service_id: Option<String>,
    pub instance_id: Option<String>,
    pub server_id: Option<String>,
    pub zone_id: Option<String>,
    pub operation: Option<String>,
    pub operator_id: Option<String>,
    pub complete: Option<bool>,
}

/// One log row. Fields a table does not have are empty strings (instance logs have no
/// `server_id`, server logs no `service_id`/`instance_id`/`zone_id`, zone logs no
/// `instance_id`/`server_id`/`extensions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRow {
    pub id: i64,
    pub region_id: String,
    pub service_id: String,
    pub instance_id: String,
    pub server_id: String,
    pub zone_id: String,
    pub operation: String,
    pub operator_id: String,
    /// Never the caller's token: artemis stores none (see docs/decisions.md), so this is "".
    pub token: String,
    pub reason: String,
    pub extensions: String,
    pub complete: bool,
    /// Epoch milliseconds.
    pub create_time_ms: i64,
    pub update_time_ms: i64,
}
