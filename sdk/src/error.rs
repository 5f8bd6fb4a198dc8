//! The error a trigger returns, and the [`Result`] it returns it in.

use std::fmt;

/// The error a trigger returns. Its message becomes the trigger's
/// `last_error` in `TRIGGER LIST`.
///
/// Anything that converts to a message converts to an `Error`, so `?` works
/// on [`call`](crate::call) and on most standard errors:
///
/// ```
/// use wasm_triggers_sdk::{Error, Result};
///
/// fn parse(count: &str) -> Result<i64> {
///     if count.is_empty() {
///         return Err(Error::new("empty count"));
///     }
///     Ok(count.parse::<i64>()?)
/// }
/// assert_eq!(parse("").unwrap_err().message(), "empty count");
/// assert!(parse("x").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

/// `Result<T, Error>`.
///
/// ```
/// use wasm_triggers_sdk::{Error, Result};
///
/// fn check(count: i64) -> Result<i64> {
///     if count < 0 { Err(Error::new("negative count")) } else { Ok(count) }
/// }
/// assert!(check(-1).is_err());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with this message.
    ///
    /// ```
    /// use wasm_triggers_sdk::Error;
    ///
    /// let error = Error::new(format!("no cart in {}", "order:42"));
    /// assert_eq!(error.to_string(), "no cart in order:42");
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
        }
    }

    /// The message, as it will appear in `last_error`.
    ///
    /// ```
    /// use wasm_triggers_sdk::Error;
    ///
    /// assert_eq!(Error::new("stale").message(), "stale");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Error> for String {
    fn from(error: Error) -> String {
        error.message
    }
}

macro_rules! from_display {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for Error {
            fn from(error: $t) -> Self {
                Error::new(error.to_string())
            }
        }
    )*};
}

from_display!(
    String,
    &str,
    std::fmt::Error,
    std::num::ParseIntError,
    std::num::ParseFloatError,
    std::str::Utf8Error,
    std::string::FromUtf8Error,
    bincode::error::EncodeError,
    bincode::error::DecodeError,
);
