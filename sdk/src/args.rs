//! A command's arguments: [`Arg`] and [`IntoArgs`], what [`call`](crate::call)
//! takes, and how a command is written for the host: its name and its
//! arguments as strings of a [`Request`].

use std::borrow::Cow;
use std::io::Write;

use crate::request::Request;

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

    /// Appends the argument, as Redis receives it, to `out`: what
    /// [`as_arg`](Arg::as_arg) returns, without making it first.
    ///
    /// [`call`](crate::call) writes each argument this way into a buffer it
    /// keeps between calls. Numbers override it to write their digits there
    /// directly, without the `String` that `as_arg` allocates; a type of
    /// yours whose `as_arg` allocates may do the same.
    ///
    /// ```
    /// use wasm_triggers_sdk::Arg;
    ///
    /// let mut out = Vec::new();
    /// "visits:".write_to(&mut out);
    /// 42u32.write_to(&mut out);
    /// assert_eq!(out, b"visits:42");
    /// ```
    fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.as_arg());
    }

    /// Appends the argument to a request, as [`call`](crate::call) sends
    /// it. Numbers override it to write their digits in place, without
    /// `as_arg`'s `String`.
    #[doc(hidden)]
    fn write_arg(&self, request: &mut Request) {
        request.string(&self.as_arg());
    }
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

    // Forwarded too, so that `&42` writes in place as `42` does.
    fn write_to(&self, out: &mut Vec<u8>) {
        (**self).write_to(out)
    }

    fn write_arg(&self, request: &mut Request) {
        (**self).write_arg(request)
    }
}

macro_rules! number_args {
    ($($t:ty),*) => {$(
        impl Arg for $t {
            fn as_arg(&self) -> Cow<'_, [u8]> {
                Cow::Owned(self.to_string().into_bytes())
            }

            fn write_to(&self, out: &mut Vec<u8>) {
                // The same digits as `to_string`, formatted into `out`
                // itself; writing to a `Vec` cannot fail.
                let _ = write!(out, "{self}");
            }

            fn write_arg(&self, request: &mut Request) {
                request.string_with(|out| self.write_to(out));
            }
        }
    )*};
}

/// Integers of up to 64 bits: their digits written from the stack, without
/// `fmt`'s machinery, for every `call` that passes one.
macro_rules! integer_args {
    ($digits:ident, $wide:ty: $($t:ty),*) => {$(
        impl Arg for $t {
            fn as_arg(&self) -> Cow<'_, [u8]> {
                Cow::Owned(self.to_string().into_bytes())
            }

            fn write_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice($digits(<$wide>::from(*self), &mut [0; 21]));
            }

            fn write_arg(&self, request: &mut Request) {
                request.string($digits(<$wide>::from(*self), &mut [0; 21]));
            }
        }
    )*};
}

integer_args!(signed, i64: i8, i16, i32, i64);
integer_args!(unsigned, u64: u8, u16, u32, u64);
number_args!(i128, isize, u128, usize, f32, f64);

/// The arguments of a command: see [`call`](crate::call).
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

    /// Appends the command `name` with these arguments to `out`, as the host
    /// reads it. By default through [`with_args`](IntoArgs::with_args); the
    /// SDK's own implementations write each argument in place instead (see
    /// [`Arg::write_to`]).
    #[doc(hidden)]
    fn write_command(self, name: &str, request: &mut Request)
    where
        Self: Sized,
    {
        self.with_args(|args| {
            request.command(1 + args.len());
            request.string(name.as_bytes());
            for arg in args {
                request.string(arg);
            }
        })
    }
}

impl IntoArgs for () {
    fn with_args<R>(self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        f(&[])
    }

    fn write_command(self, name: &str, request: &mut Request) {
        request.command(1);
        request.string(name.as_bytes());
    }
}

impl<T: Arg, const N: usize> IntoArgs for [T; N] {
    fn with_args<R>(self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let args = self.each_ref().map(Arg::as_arg);
        f(&args.each_ref().map(|a| &**a))
    }

    fn write_command(self, name: &str, request: &mut Request) {
        self.as_slice().write_command(name, request)
    }
}

impl<T: Arg> IntoArgs for &[T] {
    fn with_args<R>(self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let args: Vec<Cow<'_, [u8]>> = self.iter().map(Arg::as_arg).collect();
        let refs: Vec<&[u8]> = args.iter().map(|a| &**a).collect();
        f(&refs)
    }

    fn write_command(self, name: &str, request: &mut Request) {
        request.command(1 + self.len());
        request.string(name.as_bytes());
        for arg in self {
            arg.write_arg(request);
        }
    }
}

impl<T: Arg> IntoArgs for Vec<T> {
    fn with_args<R>(self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        self.as_slice().with_args(f)
    }

    fn write_command(self, name: &str, request: &mut Request) {
        self.as_slice().write_command(name, request)
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

            #[allow(non_snake_case)]
            fn write_command(self, name: &str, request: &mut Request) {
                const ARGS: usize = [$(stringify!($name)),+].len();
                let ($($name,)+) = self;
                request.command(1 + ARGS);
                request.string(name.as_bytes());
                $($name.write_arg(request);)+
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

/// `n` in decimal, with its sign, in the end of `buf`.
#[inline]
fn signed(n: i64, buf: &mut [u8; 21]) -> &[u8] {
    digits(n.unsigned_abs(), n < 0, buf)
}

/// `n` in decimal, in the end of `buf`.
#[inline]
fn unsigned(n: u64, buf: &mut [u8; 21]) -> &[u8] {
    digits(n, false, buf)
}

/// The digits of `n`, after a `-` if `negative`, in the end of `buf`: 20
/// digits and a sign at most. Two digits at a time, from a table: half the
/// divisions.
#[inline]
fn digits(mut n: u64, negative: bool, buf: &mut [u8; 21]) -> &[u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut start = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        start -= 2;
        buf[start..start + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        start -= 2;
        buf[start..start + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        start -= 1;
        buf[start] = b'0' + n as u8;
    }
    if negative {
        start -= 1;
        buf[start] = b'-';
    }
    &buf[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(args: impl IntoArgs) -> Vec<Vec<u8>> {
        args.with_args(|args| args.iter().map(|a| a.to_vec()).collect())
    }

    /// The request for one command: its strings, each as text, and the
    /// lengths the host splits them with.
    fn encode(name: &str, args: impl IntoArgs) -> (Vec<String>, Vec<u32>) {
        let mut request = Request::default();
        args.write_command(name, &mut request);
        let mut strings = Vec::new();
        let mut at = 0;
        for &length in &request.lengths[1..] {
            let string = &request.strings[at..at + length as usize];
            strings.push(String::from_utf8_lossy(string).into_owned());
            at += length as usize;
        }
        assert_eq!(at, request.strings.len());
        assert_eq!(request.lengths[0] as usize, strings.len());
        (strings, request.lengths)
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

    #[test]
    fn a_command_is_its_strings_and_their_lengths() {
        assert_eq!(
            encode("HSET", ("k", "v", 7)),
            (
                vec!["HSET".into(), "k".into(), "v".into(), "7".into()],
                vec![4, 4, 1, 1, 1]
            )
        );
        assert_eq!(encode("TIME", ()), (vec!["TIME".into()], vec![1, 4]));
        assert_eq!(encode("TYPE", [b"a\r\nb"]).1, [2, 4, 4]);
        assert_eq!(encode("INCRBYFLOAT", (&"k", &-1.5f64)).0[2], "-1.5");
        assert_eq!(encode("MGET", vec!["a"; 2]).1, [3, 4, 1, 1]);
        assert_eq!(encode("SET", ("", i128::MIN)).1, [3, 3, 0, 40]);
    }

    #[test]
    fn every_argument_is_written_as_as_arg_gives_it() {
        let long = "x".repeat(12_345);
        let numbers = (
            u64::MAX,
            i64::MIN,
            0u8,
            1e300f64,
            f32::NAN,
            usize::MAX,
            -7i8,
            i128::MIN,
        );
        let by_hand: Vec<String> = numbers.with_args(|args| {
            args.iter()
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        });
        assert_eq!(encode("X", numbers).0[1..], by_hand);
        assert_eq!(encode("SET", ("k", &long)).0[2], long);
    }

    #[test]
    fn decimals() {
        for n in [0, 9, 10, 99, 100, 12_345, u64::MAX] {
            assert_eq!(unsigned(n, &mut [0; 21]), n.to_string().as_bytes());
        }
        for n in [0, -1, 7, -10, i64::MIN, i64::MAX] {
            assert_eq!(signed(n, &mut [0; 21]), n.to_string().as_bytes());
        }
    }
}
