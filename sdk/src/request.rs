//! What `host.call` takes: commands as strings (each command's name, then
//! its arguments), their bytes one after the other and, apart, how to split
//! them. Kept between calls, so that a warm call allocates nothing for its
//! arguments.

use std::cell::RefCell;

/// Commands as the host reads them: `TYPE user:1` then `TIME` is `strings`
/// `TYPEuser:1TIME` and `lengths` `[2, 4, 6, 1, 4]` (for each command, how
/// many strings, then the length of each).
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Request {
    pub(crate) strings: Vec<u8>,
    pub(crate) lengths: Vec<u32>,
}

impl Request {
    /// Starts a command of `count` strings, its name and its arguments:
    /// they follow, each with [`string`](Request::string) or
    /// [`string_with`](Request::string_with).
    #[inline]
    pub(crate) fn command(&mut self, count: usize) {
        self.lengths.push(length(count));
    }

    /// Appends a string.
    #[inline]
    pub(crate) fn string(&mut self, bytes: &[u8]) {
        self.lengths.push(length(bytes.len()));
        self.strings.extend_from_slice(bytes);
    }

    /// Appends the string `write` appends to the bytes (a number's digits,
    /// known once written).
    #[inline]
    pub(crate) fn string_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.strings.len();
        write(&mut self.strings);
        self.lengths.push(length(self.strings.len() - start));
    }

    /// The name of the `index`th command, for an error message.
    pub(crate) fn name(&self, index: usize) -> Option<String> {
        let mut lengths = self.lengths.iter().map(|&l| l as usize);
        let mut at = 0;
        for _ in 0..index {
            for _ in 0..lengths.next()? {
                at += lengths.next()?;
            }
        }
        lengths.next()?;
        let name = self.strings.get(at..at + lengths.next()?)?;
        Some(String::from_utf8_lossy(name).into_owned())
    }

    fn capacity(&self) -> usize {
        self.strings.capacity() + 4 * self.lengths.capacity()
    }
}

/// A length as the host reads it. A string of 4 GiB cannot be in a
/// library's memory (a 32-bit address space), so this never saturates.
#[inline]
fn length(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

thread_local! {
    /// Requests kept between calls. A call borrows one in place
    /// ([`with_kept`]); a `Pipeline` takes one ([`take`]) and gives it back
    /// ([`keep`]) once its replies are read, so there are two: the
    /// pipeline's, and the one calls use meanwhile.
    static KEPT: [RefCell<Request>; 2] = const {
        [
            RefCell::new(Request { strings: Vec::new(), lengths: Vec::new() }),
            RefCell::new(Request { strings: Vec::new(), lengths: Vec::new() }),
        ]
    };
}

/// A request grown past this is not kept: one large command should not
/// hold its memory for the library's lifetime.
pub(crate) const KEPT_CAPACITY: usize = 64 * 1024;

/// Runs `use_request` on a kept request, emptied, borrowed where it is
/// kept (nothing moved in or out): the first free one that has room (a
/// `Pipeline` may have taken the first's), or else the first free one. If
/// both are borrowed (a call made while another's arguments are written),
/// on a new one.
#[inline]
pub(crate) fn with_kept<R>(use_request: impl FnOnce(&mut Request) -> R) -> R {
    KEPT.with(|kept| {
        let mut free = None;
        for cell in kept {
            let Ok(request) = cell.try_borrow_mut() else {
                continue;
            };
            if request.capacity() > 0 {
                free = Some(request);
                break;
            }
            free.get_or_insert(request);
        }
        match free {
            Some(mut request) => use_emptied(&mut request, use_request),
            None => use_request(&mut Request::default()),
        }
    })
}

#[inline]
fn use_emptied<R>(request: &mut Request, use_request: impl FnOnce(&mut Request) -> R) -> R {
    request.strings.clear();
    request.lengths.clear();
    let result = use_request(request);
    if request.capacity() > KEPT_CAPACITY {
        *request = Request::default();
    }
    result
}

/// A kept request, empty, taken out for a `Pipeline`; or a new one.
pub(crate) fn take() -> Request {
    let taken = |cell: &RefCell<Request>| {
        cell.try_borrow_mut()
            .map(|mut request| std::mem::take(&mut *request))
            .unwrap_or_default()
    };
    let mut request = KEPT.with(|[first, second]| {
        let request = taken(first);
        match request.capacity() {
            0 => taken(second),
            _ => request,
        }
    });
    request.strings.clear();
    request.lengths.clear();
    request
}

/// Gives a request taken with [`take`] back. One never allocated (what a
/// `Pipeline` leaves once its replies took its request) is not kept.
pub(crate) fn keep(request: Request) {
    if !(1..=KEPT_CAPACITY).contains(&request.capacity()) {
        return;
    }
    KEPT.with(|[first, second]| {
        let Ok(mut first) = first.try_borrow_mut() else {
            return;
        };
        let previous = std::mem::replace(&mut *first, request);
        if previous.capacity() > 0 {
            if let Ok(mut second) = second.try_borrow_mut() {
                *second = previous;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_their_lengths() {
        let mut request = Request::default();
        request.command(2);
        request.string(b"TYPE");
        request.string(b"user:1");
        request.command(3);
        request.string(b"INCRBY");
        request.string(b"");
        request.string_with(|out| out.extend_from_slice(b"-7"));
        assert_eq!(request.strings, b"TYPEuser:1INCRBY-7");
        assert_eq!(request.lengths, [2, 4, 6, 3, 6, 0, 2]);
        assert_eq!(request.name(0).as_deref(), Some("TYPE"));
        assert_eq!(request.name(1).as_deref(), Some("INCRBY"));
        assert_eq!(request.name(2), None);
    }
}
