//! Parquet's RLE / bit-packed hybrid encoding (definition levels and dictionary indices), read forwards at
//! ascending positions without decoding the values between them.
//!
//! A stream is a sequence of runs, each led by a ULEB128 header: an even header is a repeated run (one value,
//! stored in `ceil(width / 8)` bytes, repeated `header >> 1` times), an odd one a bit-packed run of
//! `header >> 1` groups of eight values, `width` bits each, least significant bit first. A value inside a
//! bit-packed run sits at a bit offset computed from its position, so reaching one of every sixty values costs a
//! few loads, not the decoding of the rest.

/// Why a stream could not be read: it is shorter or otherwise not what its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Malformed;

/// The run a cursor is in.
#[derive(Debug, Clone, Copy)]
enum Run {
    /// Before the first run, or past the last.
    None,
    /// One value repeated.
    Repeated(u32),
    /// Bit-packed values starting at this byte of the data.
    Packed { at: usize },
}

/// A forward-only reader of one hybrid stream.
#[derive(Debug)]
pub(super) struct HybridCursor<'a> {
    data: &'a [u8],
    /// Byte position of the next run's header.
    next: usize,
    width: u32,
    mask: u64,
    /// Values before the current run, and one past its last value.
    run_start: usize,
    run_end: usize,
    run: Run,
}

impl<'a> HybridCursor<'a> {
    /// A cursor over `data`, values `width` bits wide (at most 32).
    pub(super) fn new(data: &'a [u8], width: u32) -> Result<Self, Malformed> {
        if width > 32 {
            return Err(Malformed);
        }
        Ok(HybridCursor {
            data,
            next: 0,
            width,
            mask: if width == 0 { 0 } else { (1u64 << width) - 1 },
            run_start: 0,
            run_end: 0,
            run: Run::None,
        })
    }

    /// Move to the run holding value `index` (at or after the current run).
    fn seek(&mut self, index: usize) -> Result<(), Malformed> {
        while index >= self.run_end {
            self.next_run()?;
        }
        Ok(())
    }

    fn next_run(&mut self) -> Result<(), Malformed> {
        let header = self.uleb128()?;
        let count = usize::try_from(header >> 1).map_err(|_| Malformed)?;
        self.run_start = self.run_end;
        if header & 1 == 0 {
            let bytes = self.width.div_ceil(8) as usize;
            let raw = self.data.get(self.next..self.next + bytes).ok_or(Malformed)?;
            let mut value = 0u32;
            for (i, b) in raw.iter().enumerate() {
                value |= u32::from(*b) << (8 * i);
            }
            self.next += bytes;
            self.run = Run::Repeated(value);
            self.run_end = self.run_start + count;
        } else {
            let values = count.checked_mul(8).ok_or(Malformed)?;
            let bytes = count.checked_mul(self.width as usize).ok_or(Malformed)?;
            // The last run of a stream may stop short of its groups' bytes (the values past the end are padding).
            let available = self.data.len().saturating_sub(self.next);
            let usable = if bytes <= available || self.width == 0 {
                values
            } else {
                available * 8 / self.width as usize
            };
            self.run = Run::Packed { at: self.next };
            self.next += bytes.min(available);
            self.run_end = self.run_start + usable;
        }
        Ok(())
    }

    fn uleb128(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.data.get(self.next).ok_or(Malformed)?;
            self.next += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Malformed)
    }

    /// The `width` bits at bit offset `bit` of the data.
    fn bits_at(&self, bit: usize) -> u32 {
        let byte = bit / 8;
        let mut word = [0u8; 8];
        let end = (byte + 8).min(self.data.len());
        word[..end - byte].copy_from_slice(&self.data[byte..end]);
        ((u64::from_le_bytes(word) >> (bit % 8)) & self.mask) as u32
    }

    /// The value at `index` (indices asked must not decrease).
    pub(super) fn value_at(&mut self, index: usize) -> Result<u32, Malformed> {
        self.seek(index)?;
        Ok(match self.run {
            Run::Repeated(v) => v,
            Run::Packed { at } => self.bits_at(at * 8 + (index - self.run_start) * self.width as usize),
            Run::None => return Err(Malformed),
        })
    }

    /// How many of the values at `from .. to` are non-zero, for one-bit streams (definition levels of a flat
    /// optional column: 1 is a value, 0 a null); `from` at or after the last index asked.
    pub(super) fn count_ones(&mut self, from: usize, to: usize) -> Result<usize, Malformed> {
        debug_assert!(self.width <= 1);
        let mut count = 0;
        let mut i = from;
        while i < to {
            self.seek(i)?;
            let end = to.min(self.run_end);
            match self.run {
                Run::Repeated(v) => {
                    if v != 0 {
                        count += end - i;
                    }
                }
                Run::Packed { at } => {
                    count += self.ones_in_bits(at * 8 + (i - self.run_start), end - i);
                }
                Run::None => return Err(Malformed),
            }
            i = end;
        }
        Ok(count)
    }

    /// Set bits among `len` bits starting at bit offset `bit` of the data.
    fn ones_in_bits(&self, mut bit: usize, mut len: usize) -> usize {
        let mut count = 0;
        while len > 0 {
            let take = len.min(56);
            let byte = bit / 8;
            let mut word = [0u8; 8];
            let end = (byte + 8).min(self.data.len());
            word[..end - byte].copy_from_slice(&self.data[byte..end]);
            let bits = u64::from_le_bytes(word) >> (bit % 8);
            count += (bits & ((1u64 << take) - 1)).count_ones() as usize;
            bit += take;
            len -= take;
        }
        count
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Encode values as Parquet's hybrid: repeated runs for runs of eight or more equal values, bit-packed
    /// groups of eight otherwise (the last group padded with zeros), as a writer would.
    pub(crate) fn encode(values: &[u32], width: u32) -> Vec<u8> {
        fn uleb(out: &mut Vec<u8>, mut v: u64) {
            loop {
                let byte = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    out.push(byte);
                    return;
                }
                out.push(byte | 0x80);
            }
        }
        let mut out = Vec::new();
        let mut i = 0;
        let mut packed: Vec<u32> = Vec::new();
        let flush = |out: &mut Vec<u8>, packed: &mut Vec<u32>| {
            if packed.is_empty() {
                return;
            }
            let groups = packed.len().div_ceil(8);
            packed.resize(groups * 8, 0);
            uleb(out, ((groups as u64) << 1) | 1);
            let mut bits = vec![0u8; groups * width as usize];
            for (k, v) in packed.iter().enumerate() {
                for b in 0..width as usize {
                    if v >> b & 1 == 1 {
                        let at = k * width as usize + b;
                        bits[at / 8] |= 1 << (at % 8);
                    }
                }
            }
            out.extend(bits);
            packed.clear();
        };
        while i < values.len() {
            let mut j = i;
            while j < values.len() && values[j] == values[i] {
                j += 1;
            }
            // Only a run that starts on a group boundary of the packed values so far may be repeated.
            if j - i >= 8 && packed.len() % 8 == 0 {
                flush(&mut out, &mut packed);
                uleb(&mut out, ((j - i) as u64) << 1);
                let bytes = width.div_ceil(8) as usize;
                out.extend(&values[i].to_le_bytes()[..bytes]);
                i = j;
            } else {
                packed.push(values[i]);
                i += 1;
            }
        }
        flush(&mut out, &mut packed);
        out
    }

    #[test]
    fn values_are_read_at_ascending_positions_across_repeated_and_packed_runs() {
        for width in [1u32, 2, 3, 7, 8, 12, 17, 32] {
            let max = if width == 32 { u32::MAX } else { (1 << width) - 1 };
            let mut values: Vec<u32> = (0..300u32)
                .map(|i| (i.wrapping_mul(2_654_435_761)) & max)
                .collect();
            values.splice(40..40, std::iter::repeat_n(max.min(5), 50));
            values.splice(200..200, std::iter::repeat_n(0, 9));
            let data = encode(&values, width);
            for step in [1, 3, 17] {
                let mut cursor = HybridCursor::new(&data, width).unwrap();
                for i in (0..values.len()).step_by(step) {
                    assert_eq!(cursor.value_at(i).unwrap(), values[i], "width {width}, value {i}");
                }
            }
        }
    }

    #[test]
    fn ones_are_counted_over_ranges() {
        let levels: Vec<u32> = (0..500u32)
            .map(|i| u32::from(i % 3 != 0 || (100..180).contains(&i)))
            .collect();
        let data = encode(&levels, 1);
        let mut cursor = HybridCursor::new(&data, 1).unwrap();
        let mut at = 0;
        for to in [0, 1, 7, 64, 65, 99, 150, 181, 400, 500] {
            let expected = levels[at..to].iter().filter(|&&l| l == 1).count();
            assert_eq!(cursor.count_ones(at, to).unwrap(), expected, "{at}..{to}");
            at = to;
        }
    }

    #[test]
    fn a_stream_shorter_than_asked_is_malformed_not_a_panic() {
        let data = encode(&[1, 2, 3, 1, 2, 3, 1, 2], 2);
        let mut cursor = HybridCursor::new(&data, 2).unwrap();
        assert_eq!(cursor.value_at(7).unwrap(), 2);
        assert_eq!(cursor.value_at(8), Err(Malformed));
        let mut cursor = HybridCursor::new(&[0x80, 0x80], 2).unwrap();
        assert_eq!(cursor.value_at(0), Err(Malformed));
        assert!(HybridCursor::new(&[], 33).is_err());
        // A bit-packed header promising more groups than there are bytes: only the values present are read.
        let mut cursor = HybridCursor::new(&[0x05, 0xff], 1).unwrap();
        assert_eq!(cursor.value_at(7).unwrap(), 1);
        assert_eq!(cursor.value_at(8), Err(Malformed));
    }
}
