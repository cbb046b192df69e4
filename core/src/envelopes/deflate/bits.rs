//! DEFLATE's bit stream: codes are packed least significant bit first into a
//! 64-bit word that is spilled four bytes at a time.

/// Bits waiting to be written to a byte vector.
#[derive(Debug, Default)]
pub(super) struct Bits {
    acc: u64,
    /// How many low bits of `acc` are pending (under 32 between calls).
    n: u32,
}

impl Bits {
    /// Appends the low `count` bits of `value` (`count` at most 32, and no
    /// bit of `value` above them).
    #[inline]
    pub fn put(&mut self, out: &mut Vec<u8>, value: u32, count: u32) {
        debug_assert!(count <= 32 && (count == 32 || value >> count == 0));
        self.acc |= u64::from(value) << self.n;
        self.n += count;
        if self.n >= 32 {
            if out.capacity() - out.len() < 8 {
                out.reserve(1024);
            }
            let len = out.len();
            // SAFETY: eight bytes of room were made sure of above; four of
            // them are kept (one store, not a copy of four).
            unsafe {
                out.as_mut_ptr()
                    .add(len)
                    .cast::<[u8; 8]>()
                    .write_unaligned(self.acc.to_le_bytes());
                out.set_len(len + 4);
            }
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// Pads the last byte with zero bits and writes what is pending.
    pub fn align(&mut self, out: &mut Vec<u8>) {
        let bytes = self.n.div_ceil(8) as usize;
        out.extend_from_slice(&self.acc.to_le_bytes()[..bytes]);
        self.acc = 0;
        self.n = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bits come out in the order they went in, low bits first, across the
    /// word's spills, and alignment pads with zeros.
    #[test]
    fn bits_are_packed_low_first() {
        let mut out = Vec::new();
        let mut bits = Bits::default();
        bits.put(&mut out, 0b1, 1);
        bits.put(&mut out, 0b10, 2);
        bits.put(&mut out, 0x1f, 5);
        assert!(out.is_empty());
        bits.put(&mut out, 0xdead_beef, 32);
        bits.put(&mut out, 0b101, 3);
        bits.align(&mut out);
        assert_eq!(out, [0b1111_1101, 0xef, 0xbe, 0xad, 0xde, 0b101]);
    }
}
