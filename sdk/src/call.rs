//! Running Redis commands from a trigger: [`call`] and [`call_as`], as the
//! library's owner, and [`Arg`], what their arguments may be.

use std::borrow::Cow;

use crate::__bindings::redis::triggers::host;
use crate::typed_reply::Reader;
use crate::{Error, FromValue, Result, Value};

/// Runs a Redis command and returns its reply.
///
/// `args` mixes strings, bytes and numbers: a tuple, an array, a slice or a
/// `Vec` of anything that is an [`Arg`], or `()` for none.
///
/// ```no_run
/// use wasm_triggers_sdk::{call, Event, Result};
///
/// fn example(event: &Event) -> Result<()> {
///     // A tuple of mixed arguments: bytes, &str and an integer.
///     call("HSET", (event.key(), "visits", 1))?;
///     // An array of arguments of one type.
///     let kind = call("TYPE", [event.key()])?;
///     // No arguments.
///     let now = call("TIME", ())?;
///     // A Vec built at run time.
///     let fields: Vec<String> = vec!["a".into(), "b".into()];
///     let mut args: Vec<Vec<u8>> = vec![event.key().to_vec()];
///     args.extend(fields.into_iter().map(String::into_bytes));
///     call("HMGET", args)?;
///     Ok(())
/// }
/// ```
///
/// An error reply (`WRONGTYPE …`, a refused write in
/// [`on_fired`](crate::Trigger::on_fired), an unknown command) is returned
/// as `Err`, so `?` hands it on to `last_error`.
pub fn call(command: &str, args: impl IntoArgs) -> Result<Value> {
    args.with_args(|args| match host::call(command, args) {
        Ok(reply) => Value::from_resp3(&reply),
        Err(message) => Err(Error::new(message)),
    })
}

/// Runs a Redis command and converts its reply into `T` (see
/// [`FromValue`]); a reply that does not fit is an error that names the
/// command, what was expected and what came.
///
/// ```no_run
/// use wasm_triggers_sdk::{call_as, Event, Result};
///
/// fn example(event: &Event) -> Result<()> {
///     let (seconds, _micros): (i64, i64) = call_as("TIME", ())?;
///     let kind: String = call_as("TYPE", [event.key()])?;
///     let name: Option<String> = call_as("HGET", (event.key(), "name"))?;
///     let fields: std::collections::HashMap<String, Vec<u8>> = call_as("HGETALL", [event.key()])?;
///     Ok(())
/// }
/// ```
pub fn call_as<T: FromValue>(command: &str, args: impl IntoArgs) -> Result<T> {
    let reply = args
        .with_args(|args| host::call(command, args))
        .map_err(Error::new)?;
    // Integers, strings and short arrays of them are read in place; any
    // other reply, or one that does not fit, goes through a `Value`.
    let mut reader = Reader::new(&reply);
    if let Some(typed) = T::read(&mut reader).filter(|_| reader.at_end()) {
        return Ok(typed);
    }
    Value::from_resp3(&reply)?
        .into_typed()
        .map_err(|e| Error::new(format!("{command}: {e}")))
}

/// One argument of a command: a string, bytes or a number.
///
/// Strings and bytes are passed as they are, without a copy; numbers are
/// written in decimal.
///
/// ```
/// use wasm_triggers_sdk::Arg;
///
/// assert_eq!(&*"key".as_arg(), b"key");
/// assert_eq!(&*42i64.as_arg(), b"42");
/// assert_eq!(&*vec![0xffu8].as_arg(), [0xff]);
/// ```
pub trait Arg {
    /// The argument as Redis receives it.
    fn as_arg(&self) -> Cow<'_, [u8]>;
}

impl Arg for str {
    fn as_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl Arg for String {
    fn as_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.as_bytes())
    }
}

impl Arg for [u8] {
    fn as_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<const N: usize> Arg for [u8; N] {
    fn as_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl Arg for Vec<u8> {
    fn as_arg(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self)
    }
}

impl<T: Arg + ?Sized> Arg for &T {
    fn as_arg(&self) -> Cow<'_, [u8]> {
        (**self).as_arg()
    }
}

macro_rules! number_args {
    ($($t:ty),*) => {$(
        impl Arg for $t {
            fn as_arg(&self) -> Cow<'_, [u8]> {
                Cow::Owned(self.to_string().into_bytes())
            }
        }
    )*};
}

number_args!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64);

/// The arguments of a command: see [`call`].
///
/// ```
/// use wasm_triggers_sdk::IntoArgs;
///
/// let count = ("user:1", 7, b"\x00".as_slice()).with_args(|args| args.len());
/// assert_eq!(count, 3);
/// assert_eq!(().with_args(|args| args.len()), 0);
/// ```
pub trait IntoArgs {
    /// Calls `f` with the arguments as Redis receives them.
    fn with_args<R>(self, f: impl FnOnce(&[&[u8]]) -> R) -> R;
}

impl IntoArgs for () {
    fn with_args<R>(self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(&[])
    }
}

impl<T: Arg, const N: usize> IntoArgs for [T; N] {
    fn with_args<R>(self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let args = self.each_ref().map(Arg::as_arg);
        f(&args.each_ref().map(|a| &**a))
    }
}

impl<T: Arg> IntoArgs for &[T] {
    fn with_args<R>(self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let args: Vec<Cow<'_, [u8]>> = self.iter().map(Arg::as_arg).collect();
        let refs: Vec<&[u8]> = args.iter().map(|a| &**a).collect();
        f(&refs)
    }
}

impl<T: Arg> IntoArgs for Vec<T> {
    fn with_args<R>(self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        self.as_slice().with_args(f)
    }
}

macro_rules! tuple_args {
    ($($name:ident),+) => {
        impl<$($name: Arg),+> IntoArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn with_args<R>(self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
                let ($($name,)+) = self;
                $(let $name = $name.as_arg();)+
                f(&[$(&*$name),+])
            }
        }
    };
}

tuple_args!(A);
tuple_args!(A, B);
tuple_args!(A, B, C);
tuple_args!(A, B, C, D);
tuple_args!(A, B, C, D, E);
tuple_args!(A, B, C, D, E, F);
tuple_args!(A, B, C, D, E, F, G);
tuple_args!(A, B, C, D, E, F, G, H);
tuple_args!(A, B, C, D, E, F, G, H, I);
tuple_args!(A, B, C, D, E, F, G, H, I, J);
tuple_args!(A, B, C, D, E, F, G, H, I, J, K);
tuple_args!(A, B, C, D, E, F, G, H, I, J, K, L);

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(args: impl IntoArgs) -> Vec<Vec<u8>> {
        args.with_args(|args| args.iter().map(|a| a.to_vec()).collect())
    }

    #[test]
    fn mixed_arguments() {
        let key: &[u8] = b"h\xff";
        assert_eq!(
            collect((key, "f", 42, -1i64)),
            vec![
                b"h\xff".to_vec(),
                b"f".to_vec(),
                b"42".to_vec(),
                b"-1".to_vec()
            ]
        );
        assert_eq!(collect(["a", "b"]), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(collect(()), Vec::<Vec<u8>>::new());
        assert_eq!(collect(vec![String::from("x")]), vec![b"x".to_vec()]);
        assert_eq!(collect(&[1u8, 2][..]), vec![b"1".to_vec(), b"2".to_vec()]);
    }
}
