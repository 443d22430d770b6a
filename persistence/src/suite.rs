//! The [`Store`](crate::Store) contract tested once and run against every store: the embedded
//! SQLite file and a real MariaDB server (started once per test binary, see
//! [`crate::test_support::mariadb`]). Each test is a function generic over a [`Fixture`];
//! [`for_each_store!`] makes one `#[test]` of it per store, in the modules `sqlite` and
//! `mariadb`.
//!
//! Times are whole seconds from [`T0`], which both stores keep exactly (MySQL's time columns
//! hold seconds).

pub(crate) mod fixture;
mod groups;
mod traffic;

pub(crate) use fixture::Fixture;

/// An epoch time in milliseconds, on a whole second, well inside MySQL's `timestamp` range.
pub(crate) const T0: i64 = 1_700_000_000_000;

/// [`T0`] plus `seconds`.
pub(crate) fn at(seconds: i64) -> i64 {
    T0 + seconds * 1000
}

/// `for_each_store!(test_a, test_b)`: `sqlite::test_a`, `mariadb::test_a`, … each calling the
/// generic `test_a::<F>()` of the invoking module.
macro_rules! for_each_store {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $test() {
                super::$test::<crate::suite::fixture::Sqlite>()
            })*
        }
        mod mariadb {
            $(#[test]
            fn $test() {
                super::$test::<crate::suite::fixture::MariaDbStore>()
            })*
        }
    };
}
pub(crate) use for_each_store;
