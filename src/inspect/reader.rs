//! A bounds-checked cursor over untrusted payload bytes, for every parser in `inspect`.
//!
//! The inspection parsers follow the decoder's rule: no slice indexing on packet bytes.
//! Every read here returns `None` past the end and leaves the cursor where it was, so a
//! parser written as a chain of `?` stops cleanly at the first byte that is not there.

/// A read position in a byte slice.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, at: 0 }
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.at
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.at
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The bytes not read yet (the cursor does not move).
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.at..).unwrap_or_default()
    }

    /// The next `n` bytes, or `None` when fewer are left.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let b = self.buf.get(self.at..end)?;
        self.at = end;
        Some(b)
    }

    /// Skips `n` bytes; `None` (and no move) when fewer are left.
    pub fn skip(&mut self, n: usize) -> Option<()> {
        self.bytes(n).map(|_| ())
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.bytes(N)?;
        b.try_into().ok()
    }

    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    /// A big-endian 16-bit number.
    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    /// A big-endian 24-bit number (TLS handshake lengths).
    pub fn u24(&mut self) -> Option<u32> {
        let [a, b, c] = self.array()?;
        Some(u32::from_be_bytes([0, a, b, c]))
    }

    /// A big-endian 32-bit number.
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// Bytes prefixed by a one-byte length.
    pub fn vec8(&mut self) -> Option<&'a [u8]> {
        let save = *self;
        let n = self.u8()?;
        self.bytes(usize::from(n)).or_else(|| {
            *self = save;
            None
        })
    }

    /// Bytes prefixed by a big-endian two-byte length.
    pub fn vec16(&mut self) -> Option<&'a [u8]> {
        let save = *self;
        let n = self.u16()?;
        self.bytes(usize::from(n)).or_else(|| {
            *self = save;
            None
        })
    }

    /// Bytes prefixed by a big-endian three-byte length.
    pub fn vec24(&mut self) -> Option<&'a [u8]> {
        let save = *self;
        let n = self.u24()?;
        self.bytes(n as usize).or_else(|| {
            *self = save;
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Reader;

    #[test]
    fn reads_stop_at_the_end_without_moving() {
        let mut r = Reader::new(&[0, 3, 1, 2]);
        assert_eq!(r.vec16(), None, "length 3 with 2 bytes left");
        assert_eq!(r.position(), 0);
        assert_eq!(r.u16(), Some(3));
        assert_eq!(r.u24(), None);
        assert_eq!(r.bytes(2), Some(&[1u8, 2][..]));
        assert!(r.is_empty());
        assert_eq!(r.u8(), None);
        assert_eq!(r.bytes(usize::MAX), None);
    }

    #[test]
    fn length_prefixed_vectors() {
        let mut r = Reader::new(&[2, 9, 8, 0, 0, 1, 7, 5]);
        assert_eq!(r.vec8(), Some(&[9u8, 8][..]));
        assert_eq!(r.vec24(), Some(&[7u8][..]));
        assert_eq!(r.rest(), &[5]);
    }
}
