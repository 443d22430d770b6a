//! Reading columns out of result rows by position, for rows wider than the tuples the driver
//! converts to.

use mysql::prelude::FromValue;
use mysql::{FromValueError, Row};

/// A cursor over one row's columns, left to right.
pub(super) struct Columns {
    row: Row,
    next: usize,
}

impl Columns {
    pub(super) fn new(row: Row) -> Columns {
        Columns { row, next: 0 }
    }

    /// The next column, converted; an error names the value that did not convert.
    pub(super) fn next<T: FromValue>(&mut self) -> mysql::Result<T> {
        let index = self.next;
        self.next += 1;
        match self.row.take_opt(index) {
            Some(Ok(value)) => Ok(value),
            Some(Err(FromValueError(value))) => Err(mysql::Error::FromValueError(value)),
            None => Err(mysql::Error::FromRowError(self.row.clone())),
        }
    }
}
