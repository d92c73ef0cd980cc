// SPDX-License-Identifier: BSD-2-Clause
//! The line protocol of `kqdafs-serve` (pure, tested on the build host).
//!
//! Request: `GET <path> <offset> <len>\n` (path without spaces, numbers in
//! decimal, `len` at most [`MAX_LEN`]).  Requests may be pipelined; replies
//! come in request order:
//!
//! * `OK <n>\n` then exactly `n` bytes of the file from `offset` (`n` <
//!   `len` at end of file), or
//! * `ERR <errno> <text>\n`.

use std::path::{Component, Path, PathBuf};

/// Longest request line (with its newline).
pub const MAX_LINE: usize = 4096;

/// Most bytes one GET may ask for: one KAIO read.
pub const MAX_LEN: u64 = kqdafs_abi::kaio::KAIO_MAX_LEN;

/// A parsed request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Get {
    /// The path as sent.
    pub path: String,
    /// File offset.
    pub offset: u64,
    /// Bytes wanted.
    pub len: u64,
}

/// Why a line is not a request (each answered with `ERR 22 ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not `GET`.
    UnknownCommand,
    /// Wrong number of words, or a number that does not parse.
    BadArguments,
    /// `len` above [`MAX_LEN`] or `offset + len` beyond `i64::MAX`.
    TooLong,
    /// Not UTF-8.
    NotText,
}

impl ParseError {
    /// Text for the `ERR` line.
    pub fn text(self) -> &'static str {
        match self {
            ParseError::UnknownCommand => "unknown command",
            ParseError::BadArguments => "usage: GET <path> <offset> <len>",
            ParseError::TooLong => "range too long",
            ParseError::NotText => "not text",
        }
    }
}

/// Parse one line (without its newline; a trailing `\r` is ignored).
pub fn parse_line(line: &[u8]) -> Result<Get, ParseError> {
    let line = std::str::from_utf8(line).map_err(|_| ParseError::NotText)?;
    let mut words = line.trim_end_matches('\r').split_ascii_whitespace();
    if words.next() != Some("GET") {
        return Err(ParseError::UnknownCommand);
    }
    let (Some(path), Some(offset), Some(len), None) = (words.next(), words.next(), words.next(), words.next()) else {
        return Err(ParseError::BadArguments);
    };
    let offset: u64 = offset.parse().map_err(|_| ParseError::BadArguments)?;
    let len: u64 = len.parse().map_err(|_| ParseError::BadArguments)?;
    if len > MAX_LEN || offset.checked_add(len).is_none_or(|end| end > i64::MAX as u64) {
        return Err(ParseError::TooLong);
    }
    Ok(Get { path: path.to_string(), offset, len })
}

/// Accumulates bytes read from a socket and hands out whole lines.
#[derive(Debug, Default)]
pub struct LineBuf {
    buf: Vec<u8>,
}

/// A line longer than [`MAX_LINE`] arrived: the connection is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineTooLong;

impl LineBuf {
    /// Append received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete line (without `\n`), if any.
    pub fn next_line(&mut self) -> Option<Result<Vec<u8>, LineTooLong>> {
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(i) if i < MAX_LINE => {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                Some(Ok(line))
            }
            Some(_) => Some(Err(LineTooLong)),
            None if self.buf.len() >= MAX_LINE => Some(Err(LineTooLong)),
            None => None,
        }
    }
}

/// `OK <n>\n`.
pub fn ok_header(n: usize) -> Vec<u8> {
    format!("OK {n}\n").into_bytes()
}

/// `ERR <errno> <text>\n` (newlines in `text` become spaces).
pub fn err_line(errno: i32, text: &str) -> Vec<u8> {
    format!("ERR {errno} {}\n", text.replace(['\n', '\r'], " ")).into_bytes()
}

/// A reply header as the client reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `n` bytes follow.
    Ok(u64),
    /// The request failed.
    Err(i32),
}

/// Parse a reply header line (without its newline).
pub fn parse_reply(line: &str) -> Option<Reply> {
    let mut words = line.trim_end().splitn(3, ' ');
    match (words.next()?, words.next()?) {
        ("OK", n) => n.parse().ok().map(Reply::Ok),
        ("ERR", e) => e.parse().ok().map(Reply::Err),
        _ => None,
    }
}

/// The file a request names: `path` below `root`, with no `..` (a leading
/// `/` is taken relative to `root`).  `None` if it would escape.
pub fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_get() {
        let g = parse_line(b"GET /tmp/x 4096 100\r").unwrap();
        assert_eq!(g, Get { path: "/tmp/x".into(), offset: 4096, len: 100 });
        assert_eq!(parse_line(b"  GET a 0 0 ").unwrap().len, 0);
        assert_eq!(parse_line(b"PUT a 0 1"), Err(ParseError::UnknownCommand));
        assert_eq!(parse_line(b""), Err(ParseError::UnknownCommand));
        assert_eq!(parse_line(b"GET a 0"), Err(ParseError::BadArguments));
        assert_eq!(parse_line(b"GET a 0 1 2"), Err(ParseError::BadArguments));
        assert_eq!(parse_line(b"GET a -1 1"), Err(ParseError::BadArguments));
        assert_eq!(parse_line(b"GET a x 1"), Err(ParseError::BadArguments));
        assert_eq!(parse_line(format!("GET a 0 {}", MAX_LEN + 1).as_bytes()), Err(ParseError::TooLong));
        assert_eq!(parse_line(format!("GET a {} 1", i64::MAX).as_bytes()), Err(ParseError::TooLong));
        assert_eq!(parse_line(format!("GET a {} 1", u64::MAX).as_bytes()), Err(ParseError::TooLong));
        assert_eq!(parse_line(b"GET \xff 0 1"), Err(ParseError::NotText));
    }

    #[test]
    fn lines_are_split_and_bounded() {
        let mut l = LineBuf::default();
        l.extend(b"GET a 0 1\nGET b");
        assert_eq!(l.next_line(), Some(Ok(b"GET a 0 1".to_vec())));
        assert_eq!(l.next_line(), None);
        l.extend(b" 0 1\n\n");
        assert_eq!(l.next_line(), Some(Ok(b"GET b 0 1".to_vec())));
        assert_eq!(l.next_line(), Some(Ok(Vec::new())));
        assert_eq!(l.next_line(), None);
        l.extend(&vec![b'x'; MAX_LINE]);
        assert_eq!(l.next_line(), Some(Err(LineTooLong)));
    }

    #[test]
    fn replies_round_trip() {
        assert_eq!(parse_reply(std::str::from_utf8(&ok_header(42)).unwrap()), Some(Reply::Ok(42)));
        let e = err_line(2, "no such\nfile");
        assert_eq!(e, b"ERR 2 no such file\n");
        assert_eq!(parse_reply("ERR 2 no such file\n"), Some(Reply::Err(2)));
        assert_eq!(parse_reply("HELLO"), None);
        assert_eq!(parse_reply("OK x"), None);
    }

    #[test]
    fn paths_stay_below_the_root() {
        let root = Path::new("/srv");
        assert_eq!(resolve(root, "/a/b"), Some(PathBuf::from("/srv/a/b")));
        assert_eq!(resolve(root, "a/./b"), Some(PathBuf::from("/srv/a/b")));
        assert_eq!(resolve(root, "a/../../etc/passwd"), None);
        assert_eq!(resolve(Path::new("/"), "/tmp/x"), Some(PathBuf::from("/tmp/x")));
    }
}
