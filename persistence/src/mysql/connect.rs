//! Connections to the shared database: the pool's options (timeouts, size, the session every
//! connection starts with), and the first connection at start, retried while the server is
//! unreachable.

use std::time::{Duration, Instant};

use mysql::{OptsBuilder, Pool, PoolConstraints, PoolOpts};

use super::{MySqlOpenError, MySqlOptions};

/// Pause between two connection attempts at start while the server is unreachable.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// Prepared statements kept per connection: every fixed statement of the store fits.
const STATEMENT_CACHE: usize = 256;

/// What every connection sets first:
/// - UTC, so `FROM_UNIXTIME` / `UNIX_TIMESTAMP` convert epoch seconds both ways without a
///   daylight-saving gap or overlap (`DataChange_LastTime` is stored in UTC by MySQL anyway;
///   `CREATE_TIME` is a zone-less `datetime`, written and read as UTC);
/// - strict mode, so a value too long for its column fails the transaction instead of being
///   cut short, and a table is never silently created with another engine;
/// - READ COMMITTED, so each statement of a write sees what other nodes committed before it
///   (an upsert's follow-up `SELECT ID` finds the row another node just inserted).
fn session(query_timeout: Duration) -> Vec<String> {
    let lock_wait_seconds = query_timeout.as_secs().max(1);
    vec![
        "SET SESSION time_zone = '+00:00'".into(),
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'".into(),
        "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED".into(),
        // A row lock held by another node fails the statement cleanly (`Busy`) before the
        // client's read timeout would drop the connection.
        format!("SET SESSION innodb_lock_wait_timeout = {lock_wait_seconds}"),
    ]
}

fn pool_opts(options: &MySqlOptions, connect_timeout: Duration) -> OptsBuilder {
    let constraints = PoolConstraints::new(1, options.pool_size)
        .expect("persistence.pool_size is at least 1 (checked with the configuration)");
    OptsBuilder::from_opts(options.url.opts.clone())
        .pass(
            options
                .password
                .clone()
                .or_else(|| options.url.password.clone()),
        )
        .tcp_connect_timeout(Some(connect_timeout))
        .read_timeout(Some(options.query_timeout))
        .write_timeout(Some(options.query_timeout))
        .stmt_cache_size(STATEMENT_CACHE)
        .init(session(options.query_timeout))
        // Transactions are committed or rolled back by the store itself; a reset on every
        // return to the pool would cost a round trip and drop the statement cache.
        .pool_opts(
            PoolOpts::default()
                .with_constraints(constraints)
                .with_reset_connection(false),
        )
}

/// The pool, with its first connection made. A server that cannot be reached (refused, timed
/// out) is tried again until `options.connect_timeout` has passed since the first attempt;
/// any other failure (credentials, unknown database) is final at once.
pub(super) fn connect(options: &MySqlOptions) -> Result<Pool, MySqlOpenError> {
    let database = options.url.redacted().to_owned();
    let started = Instant::now();
    let deadline = started + options.connect_timeout;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let attempt_timeout = remaining.max(Duration::from_millis(100));
        let error = match Pool::new(pool_opts(options, attempt_timeout)) {
            Ok(pool) => return Ok(pool),
            Err(error) => error,
        };
        if !is_unreachable(&error) {
            return Err(MySqlOpenError {
                database,
                reason: error.to_string(),
            });
        }
        if Instant::now() + RETRY_PAUSE >= deadline {
            return Err(MySqlOpenError {
                database,
                reason: format!(
                    "the server did not answer within persistence.connect_timeout_ms ({} ms, \
                     {attempts} attempts): {error}",
                    options.connect_timeout.as_millis()
                ),
            });
        }
        if attempts == 1 {
            tracing::warn!(
                database = %database,
                error = %error,
                "the management database is unreachable; trying again until \
                 persistence.connect_timeout_ms"
            );
        }
        std::thread::sleep(RETRY_PAUSE);
    }
}

/// A server that is down, starting, overloaded or behind a broken network: worth another try.
/// Refused credentials, an unknown database or a protocol the client cannot speak are not.
fn is_unreachable(error: &mysql::Error) -> bool {
    /// `ER_CON_COUNT_ERROR` (too many connections), `ER_SERVER_SHUTDOWN`.
    const BUSY_SERVER: [u16; 2] = [1040, 1053];
    match error {
        mysql::Error::IoError(_) | mysql::Error::CodecError(_) => true,
        mysql::Error::DriverError(e) => matches!(
            e,
            mysql::DriverError::ConnectTimeout
                | mysql::DriverError::CouldNotConnect(_)
                | mysql::DriverError::Timeout
        ),
        mysql::Error::MySqlError(e) => BUSY_SERVER.contains(&e.code),
        _ => false,
    }
}
