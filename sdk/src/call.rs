use crate::__bindings::redis::triggers::host;
use crate::{Error, Result, Value};

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
    let args = args.into_args();
    match host::call(command, &args) {
        Ok(nodes) => Ok(Value::from_nodes(nodes)),
        Err(message) => Err(Error::new(message)),
    }
}

/// One argument of a command: a string, bytes or a number.
pub trait Arg {
    /// The argument as Redis receives it.
    fn to_arg(&self) -> Vec<u8>;
}

impl Arg for str {
    fn to_arg(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Arg for String {
    fn to_arg(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl Arg for [u8] {
    fn to_arg(&self) -> Vec<u8> {
        self.to_vec()
    }
}

impl<const N: usize> Arg for [u8; N] {
    fn to_arg(&self) -> Vec<u8> {
        self.to_vec()
    }
}

impl Arg for Vec<u8> {
    fn to_arg(&self) -> Vec<u8> {
        self.clone()
    }
}

impl<T: Arg + ?Sized> Arg for &T {
    fn to_arg(&self) -> Vec<u8> {
        (**self).to_arg()
    }
}

macro_rules! number_args {
    ($($t:ty),*) => {$(
        impl Arg for $t {
            fn to_arg(&self) -> Vec<u8> {
                self.to_string().into_bytes()
            }
        }
    )*};
}

number_args!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64);

/// The arguments of a command: see [`call`].
pub trait IntoArgs {
    /// The arguments as Redis receives them.
    fn into_args(self) -> Vec<Vec<u8>>;
}

impl IntoArgs for () {
    fn into_args(self) -> Vec<Vec<u8>> {
        Vec::new()
    }
}

impl<T: Arg, const N: usize> IntoArgs for [T; N] {
    fn into_args(self) -> Vec<Vec<u8>> {
        self.iter().map(Arg::to_arg).collect()
    }
}

impl<T: Arg> IntoArgs for &[T] {
    fn into_args(self) -> Vec<Vec<u8>> {
        self.iter().map(Arg::to_arg).collect()
    }
}

impl<T: Arg> IntoArgs for Vec<T> {
    fn into_args(self) -> Vec<Vec<u8>> {
        self.iter().map(Arg::to_arg).collect()
    }
}

macro_rules! tuple_args {
    ($($name:ident),+) => {
        impl<$($name: Arg),+> IntoArgs for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_args(self) -> Vec<Vec<u8>> {
                let ($($name,)+) = self;
                vec![$($name.to_arg()),+]
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

    #[test]
    fn mixed_arguments() {
        let key: &[u8] = b"h\xff";
        assert_eq!(
            (key, "f", 42, -1i64).into_args(),
            vec![
                b"h\xff".to_vec(),
                b"f".to_vec(),
                b"42".to_vec(),
                b"-1".to_vec()
            ]
        );
        assert_eq!(["a", "b"].into_args(), vec![b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(().into_args(), Vec::<Vec<u8>>::new());
        assert_eq!(vec![String::from("x")].into_args(), vec![b"x".to_vec()]);
    }
}
