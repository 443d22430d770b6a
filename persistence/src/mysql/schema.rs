//! Java's management tables on a shared database: each one missing is created with Java's DDL;
//! each one present is checked, never altered or dropped (Java nodes may be using it), and one
//! artemis cannot use stops the start.
//!
//! A present table is usable when it has every column of Java's table with a type of the same
//! kind (text, integer, time), case-insensitive collations on its text columns (natural keys and
//! filters ignore case, as for Java), an auto-increment `ID`, and Java's unique key (upserts rely
//! on it). Wider types, extra columns and extra indexes are fine.

mod ddl;

use mysql::prelude::Queryable;

pub(super) use ddl::TABLES;

/// The kind of value a column holds; a present table may use any type of the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Integer,
    Time,
}

impl Kind {
    fn of(data_type: &str) -> Option<Kind> {
        Some(match data_type.to_ascii_lowercase().as_str() {
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => Kind::Text,
            "tinyint" | "smallint" | "mediumint" | "int" | "bigint" => Kind::Integer,
            "datetime" | "timestamp" => Kind::Time,
            _ => return None,
        })
    }
}

/// What a table of Java's schema must have, read from its DDL.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Expected {
    pub(super) columns: Vec<(&'static str, Kind)>,
    pub(super) unique_key: Vec<&'static str>,
}

/// The columns and unique key written in `ddl` (one column or key per line, see [`ddl`]).
pub(super) fn expected(ddl: &'static str) -> Expected {
    let mut columns = Vec::new();
    let mut unique_key = Vec::new();
    for line in ddl.lines().filter_map(|line| line.strip_prefix("  ")) {
        let mut words = line.split_whitespace();
        let (Some(first), Some(second)) = (words.next(), words.next()) else {
            continue;
        };
        match first {
            "PRIMARY" | "KEY" => {}
            "UNIQUE" => {
                let open = line.find('(').expect("a unique key lists its columns");
                let close = line.rfind(')').expect("a unique key lists its columns");
                unique_key = line[open + 1..close].split(", ").collect();
            }
            name => {
                let data_type = second.split('(').next().unwrap_or(second);
                let kind = Kind::of(data_type)
                    .unwrap_or_else(|| panic!("column {name} has an unknown type {data_type}"));
                columns.push((name, kind));
            }
        }
    }
    Expected {
        columns,
        unique_key,
    }
}

/// Check every present table, then create the missing ones: a database with a table artemis
/// cannot use is left exactly as it was. `Err` says which table and why.
pub(super) fn ensure(conn: &mut impl Queryable) -> Result<(), SchemaError> {
    let present: Vec<String> = conn.query(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
    )?;
    let (present, missing): (Vec<_>, Vec<_>) = TABLES
        .iter()
        .partition(|(table, _)| present.iter().any(|name| name == table));
    for &(table, ddl) in present {
        check(conn, table, &expected(ddl))?;
    }
    for &(table, ddl) in missing {
        tracing::info!("creating the missing table {table} (Java Artemis's schema)");
        conn.query_drop(ddl)?;
    }
    Ok(())
}

/// Why the schema cannot be used: a statement failed, or a table has Java's name but not
/// Java's columns.
#[derive(Debug)]
pub(super) enum SchemaError {
    Database(mysql::Error),
    Incompatible(String),
}

impl From<mysql::Error> for SchemaError {
    fn from(error: mysql::Error) -> Self {
        SchemaError::Database(error)
    }
}

fn check(conn: &mut impl Queryable, table: &str, expected: &Expected) -> Result<(), SchemaError> {
    let incompatible = |why: String| {
        SchemaError::Incompatible(format!(
            "table {table} exists but does not have Java Artemis's columns: {why}; artemis never \
             alters an existing table"
        ))
    };
    let present: Vec<(String, String, Option<String>, String)> = conn.exec(
        "SELECT COLUMN_NAME, DATA_TYPE, COLLATION_NAME, EXTRA FROM information_schema.COLUMNS
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
        (table,),
    )?;
    for &(name, kind) in &expected.columns {
        let Some((_, data_type, collation, extra)) = present
            .iter()
            .find(|(column, ..)| column.eq_ignore_ascii_case(name))
        else {
            return Err(incompatible(format!("column {name} is missing")));
        };
        if Kind::of(data_type) != Some(kind) {
            return Err(incompatible(format!(
                "column {name} is {data_type}, not a {kind:?} type"
            )));
        }
        if kind == Kind::Text && !collation.as_deref().is_some_and(|c| c.ends_with("_ci")) {
            return Err(incompatible(format!(
                "column {name} has the case-sensitive collation {}",
                collation.as_deref().unwrap_or("(none)")
            )));
        }
        if name == "ID" && !extra.to_ascii_lowercase().contains("auto_increment") {
            return Err(incompatible("column ID is not AUTO_INCREMENT".into()));
        }
    }
    if expected.unique_key.is_empty() {
        return Ok(());
    }
    let keys: Vec<(String, String)> = conn.exec(
        "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0
           AND INDEX_NAME <> 'PRIMARY'
         ORDER BY INDEX_NAME, SEQ_IN_INDEX",
        (table,),
    )?;
    let mut names: Vec<&str> = keys.iter().map(|(index, _)| index.as_str()).collect();
    names.dedup();
    let has_key = names.iter().any(|index| {
        let columns: Vec<&str> = keys
            .iter()
            .filter(|(i, _)| i == index)
            .map(|(_, column)| column.as_str())
            .collect();
        columns.len() == expected.unique_key.len()
            && columns
                .iter()
                .zip(&expected.unique_key)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    });
    if !has_key {
        return Err(incompatible(format!(
            "no unique key on ({})",
            expected.unique_key.join(", ")
        )));
    }
    Ok(())
}
