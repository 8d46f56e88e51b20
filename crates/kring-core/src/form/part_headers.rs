//! A bound on the header block of every part of a multipart body, checked as the bytes stream
//! by: a parser buffers a part's headers until their blank line, so without it one 45 MiB
//! header block is held in memory whole (PHP and web servers cap it at a few KiB as well).

use memchr::memmem;

/// The most bytes one part's header block may take (its lines and their line ends).
pub const MAX_PART_HEADERS: usize = 16 * 1024;

/// Watches a multipart body for a part header block longer than [`MAX_PART_HEADERS`].
#[derive(Debug)]
pub struct PartHeaders {
    /// `\r\n--<boundary>`: what starts every part (the body is read as if a line end came
    /// before its first byte, so the first boundary is found the same way).
    delimiter: Vec<u8>,
    state: State,
    /// The end of what was fed, kept for a delimiter or a blank line split across two chunks.
    tail: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// In a part's content (or the preamble), looking for the next delimiter.
    Content,
    /// Right after a delimiter: `--` closes the body, anything else opens a header block.
    Delimited,
    /// In a header block, with this many of its bytes already behind.
    Headers(usize),
    /// After the closing delimiter: nothing more is looked at.
    Closed,
}

/// A part's header block passed [`MAX_PART_HEADERS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadersTooLong;

const BLANK_LINE: &[u8] = b"\r\n\r\n";

impl PartHeaders {
    pub fn new(boundary: &str) -> PartHeaders {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        PartHeaders {
            delimiter,
            state: State::Content,
            tail: b"\r\n".to_vec(),
        }
    }

    /// Takes the next bytes of the body.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), HeadersTooLong> {
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(chunk);
        let mut at = 0;
        loop {
            let rest = window.get(at..).unwrap_or_default();
            match self.state {
                State::Closed => return Ok(()),
                State::Content => match memmem::find(rest, &self.delimiter) {
                    Some(i) => {
                        at += i + self.delimiter.len();
                        self.state = State::Delimited;
                    }
                    None => {
                        self.keep(&window, at, self.delimiter.len() - 1);
                        return Ok(());
                    }
                },
                State::Delimited => match rest.get(..2) {
                    Some([b'-', b'-']) => self.state = State::Closed,
                    Some(_) => self.state = State::Headers(0),
                    None => {
                        self.keep(&window, at, 2);
                        return Ok(());
                    }
                },
                State::Headers(seen) => match memmem::find(rest, BLANK_LINE) {
                    Some(i) if seen + i > MAX_PART_HEADERS => return Err(HeadersTooLong),
                    Some(i) => {
                        at += i + BLANK_LINE.len();
                        self.state = State::Content;
                    }
                    None => {
                        let kept = rest.len().min(BLANK_LINE.len() - 1);
                        let seen = seen + rest.len() - kept;
                        if seen > MAX_PART_HEADERS {
                            return Err(HeadersTooLong);
                        }
                        self.state = State::Headers(seen);
                        self.keep(&window, at, kept);
                        return Ok(());
                    }
                },
            }
        }
    }

    /// Keeps the last `n` bytes of `window` from `at` on, for the next chunk.
    fn keep(&mut self, window: &[u8], at: usize, n: usize) {
        let from = window.len().saturating_sub(n).max(at);
        self.tail = window.get(from..).unwrap_or_default().to_vec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(header_len: usize, content: &[u8]) -> Vec<u8> {
        let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n".to_vec();
        body.extend(std::iter::repeat_n(b'h', header_len));
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        body.extend(std::iter::repeat_n(b'e', 100_000)); // an epilogue, never headers
        body
    }

    fn fed_in(chunk: usize, body: &[u8]) -> Result<(), HeadersTooLong> {
        let mut guard = PartHeaders::new("XyZ");
        body.chunks(chunk).try_for_each(|c| guard.feed(c))
    }

    #[test]
    fn long_header_blocks_are_refused_however_the_body_is_cut() {
        let within = body(MAX_PART_HEADERS - 200, b"content");
        let beyond = body(MAX_PART_HEADERS + 1, b"content");
        for chunk in [1, 2, 3, 7, 64, 4096, 1 << 20] {
            assert_eq!(fed_in(chunk, &within), Ok(()), "chunks of {chunk}");
            assert_eq!(
                fed_in(chunk, &beyond),
                Err(HeadersTooLong),
                "chunks of {chunk}"
            );
        }
    }

    #[test]
    fn content_of_any_size_is_not_headers() {
        let big = vec![b'c'; 3 * MAX_PART_HEADERS];
        let mut two = body(10, &big);
        let second = body(10, &big);
        // A second part after the first one's delimiter.
        two.truncate(two.len() - 100_000 - b"--\r\n".len());
        two.extend_from_slice(b"\r\n");
        two.extend_from_slice(second.get(b"--XyZ\r\n".len()..).unwrap_or_default());
        for chunk in [5, 1000, 1 << 16] {
            assert_eq!(fed_in(chunk, &two), Ok(()), "chunks of {chunk}");
        }
    }

    #[test]
    fn a_header_block_that_never_ends_is_refused_without_a_blank_line() {
        let mut body = b"--XyZ\r\nContent-Type: ".to_vec();
        body.extend(std::iter::repeat_n(b'x', 10 * MAX_PART_HEADERS));
        assert_eq!(fed_in(8192, &body), Err(HeadersTooLong));
    }
}
