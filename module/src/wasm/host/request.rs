//! Contract 0.2's `call` request: commands as strings (each command's name,
//! then its arguments), their bytes one after the other in `strings` and
//! how to split them in `lengths` (for each command, how many strings,
//! then the length of each), both read in place from the guest's memory.

/// Reads a request from its start: a command's count of strings, then each
/// string.
pub(super) struct Parser<'a> {
    strings: &'a [u8],
    lengths: &'a [u32],
    /// Where the next string starts in `strings`.
    at: usize,
    /// The next entry of `lengths`.
    next: usize,
}

impl<'a> Parser<'a> {
    pub fn new(strings: &'a [u8], lengths: &'a [u32]) -> Self {
        Parser {
            strings,
            lengths,
            at: 0,
            next: 0,
        }
    }

    /// Whether the whole request was read.
    #[inline]
    pub fn at_end(&self) -> bool {
        self.next == self.lengths.len() && self.at == self.strings.len()
    }

    #[inline]
    fn length(&mut self) -> Result<usize, &'static str> {
        let length = *self
            .lengths
            .get(self.next)
            .ok_or("lengths ends before the command does")?;
        self.next += 1;
        Ok(length as usize)
    }

    /// How many strings the next command has (its name and its
    /// arguments), at least one.
    #[inline]
    pub fn command(&mut self) -> Result<usize, &'static str> {
        match self.length()? {
            0 => Err("a command of no string"),
            count => Ok(count),
        }
    }

    /// The next string.
    #[inline]
    pub fn string(&mut self) -> Result<&'a [u8], &'static str> {
        let length = self.length()?;
        let string = self
            .strings
            .get(self.at..)
            .and_then(|rest| rest.get(..length))
            .ok_or("a string longer than what is left of strings")?;
        self.at += length;
        Ok(string)
    }
}

/// Checks every command of a request before any runs (a request that
/// `lengths` does not split into commands is refused whole), and counts
/// them.
pub(super) fn check(strings: &[u8], lengths: &[u32]) -> Result<usize, String> {
    let mut parser = Parser::new(strings, lengths);
    let mut count = 0;
    while parser.next < lengths.len() {
        count += 1;
        let strings = parser.command().map_err(|e| malformed(count, e))?;
        for _ in 0..strings {
            parser.string().map_err(|e| malformed(count, e))?;
        }
    }
    if count == 0 {
        return Err("call: the request holds no command".into());
    }
    if !parser.at_end() {
        return Err(format!(
            "call: strings holds {} bytes after the last command",
            strings.len() - parser.at
        ));
    }
    Ok(count)
}

/// Why command `index` (from 1) of a request was refused.
pub(super) fn malformed(index: usize, error: &str) -> String {
    format!("call: command {index} of the request: {error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(strings: &[u8], lengths: &[u32]) -> Result<Vec<Vec<Vec<u8>>>, String> {
        let count = check(strings, lengths)?;
        let mut parser = Parser::new(strings, lengths);
        let mut commands = Vec::new();
        while !parser.at_end() {
            let n = parser.command()?;
            let command = (0..n).map(|_| parser.string().map(<[u8]>::to_vec));
            commands.push(command.collect::<Result<_, _>>()?);
        }
        assert_eq!(commands.len(), count);
        Ok(commands)
    }

    #[test]
    fn one_command_and_a_pipeline() {
        assert_eq!(parsed(b"TIME", &[1, 4]).unwrap(), [[b"TIME".to_vec()]]);
        let two = parsed(b"TYPEk\xffSETa\r\nb", &[2, 4, 2, 3, 3, 0, 4]).unwrap();
        assert_eq!(
            two,
            [
                vec![b"TYPE".to_vec(), b"k\xff".to_vec()],
                vec![b"SET".to_vec(), b"".to_vec(), b"a\r\nb".to_vec()],
            ]
        );
    }

    #[test]
    fn malformed_requests_are_refused_whole() {
        for (strings, lengths) in [
            (&b""[..], &[][..]),
            (b"TIME", &[]),
            (b"TIME", &[0]),
            (b"TIME", &[2, 4]),
            (b"TIME", &[1, 5]),
            (b"TIME", &[1, 3]),
            (b"TIMETIME", &[1, 4]),
            (b"TIMETIME", &[1, 4, 1]),
            (b"TIME", &[1, u32::MAX]),
        ] {
            assert!(check(strings, lengths).is_err(), "{strings:?} {lengths:?}");
        }
    }
}
