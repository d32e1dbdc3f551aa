//! Every DuckDB connection ferry opens goes through here, so none of them
//! ever reaches for the network: DuckDB's default is to download and load
//! "known" extensions (ICU, httpfs…) the first time a query needs one, which
//! would connect to extensions.duckdb.org. ferry runs offline; a query that
//! needs a missing extension fails with DuckDB's message instead.

use std::path::Path;

use duckdb::{Config, Connection};

/// Settings for every connection: no extension downloads or autoloading.
pub fn offline_config() -> duckdb::Result<Config> {
    Config::default().enable_autoload_extension(false)
}

/// DuckDB's own default is 80% of the machine's memory, held as cache even
/// when idle. ferry keeps a database file's work within this and lets
/// larger sorts and aggregates spill to `<database>.tmp` instead, so a
/// migration of any size runs in well under 1 GiB.
pub const MEMORY_LIMIT: &str = "512MB";

/// Opens (or creates) a database file, offline and within [`MEMORY_LIMIT`].
pub fn open(path: &Path) -> duckdb::Result<Connection> {
    Connection::open_with_flags(path, offline_config()?.max_memory(MEMORY_LIMIT)?)
}

pub fn open_in_memory() -> duckdb::Result<Connection> {
    Connection::open_in_memory_with_flags(offline_config()?)
}
