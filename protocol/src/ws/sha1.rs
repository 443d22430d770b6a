//! SHA-1 (RFC 3174, FIPS 180-4), only for the `Sec-WebSocket-Accept` computation. SHA-1 is broken
//! for collision resistance; RFC 6455 uses it as a fixed transform, not for security.

/// Bytes per compression block.
const BLOCK_LEN: usize = 64;

/// Digest length in bytes.
pub const DIGEST_LEN: usize = 20;

const INITIAL_STATE: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// Incremental SHA-1. Feed with [`Sha1::update`], finish with [`Sha1::finalize`].
#[derive(Clone, Debug)]
pub struct Sha1 {
    state: [u32; 5],
    /// Bytes of an incomplete block; only `block[..block_len]` is meaningful.
    block: [u8; BLOCK_LEN],
    block_len: usize,
    /// Message length in bytes so far. The message length is defined modulo 2^64 bits, so the
    /// byte count wraps (never reached in practice).
    total_len: u64,
}

impl Default for Sha1 {
    fn default() -> Self {
        Sha1::new()
    }
}

impl Sha1 {
    pub fn new() -> Self {
        Sha1 {
            state: INITIAL_STATE,
            block: [0; BLOCK_LEN],
            block_len: 0,
            total_len: 0,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        self.total_len = self.total_len.wrapping_add(data.len() as u64);
        if self.block_len > 0 {
            let take = (BLOCK_LEN - self.block_len).min(data.len());
            let (head, rest) = data.split_at(take);
            self.block[self.block_len..self.block_len + take].copy_from_slice(head);
            self.block_len += take;
            data = rest;
            if self.block_len < BLOCK_LEN {
                return;
            }
            let block = self.block;
            compress(&mut self.state, &block);
            self.block_len = 0;
        }
        let mut blocks = data.chunks_exact(BLOCK_LEN);
        for block in &mut blocks {
            if let Ok(block) = <&[u8; BLOCK_LEN]>::try_from(block) {
                compress(&mut self.state, block);
            }
        }
        let rest = blocks.remainder();
        self.block[..rest.len()].copy_from_slice(rest);
        self.block_len = rest.len();
        debug_assert!(self.block_len < BLOCK_LEN);
    }

    pub fn finalize(mut self) -> [u8; DIGEST_LEN] {
        let bit_len = self.total_len.wrapping_mul(8);
        // Padding: 0x80, zeros up to 56 mod 64, then the 64-bit big-endian bit length.
        let mut padding = [0u8; BLOCK_LEN + 8];
        padding[0] = 0x80;
        let zeros = if self.block_len < 56 {
            55 - self.block_len
        } else {
            BLOCK_LEN + 55 - self.block_len
        };
        let pad_len = 1 + zeros;
        padding[pad_len..pad_len + 8].copy_from_slice(&bit_len.to_be_bytes());
        // update() would count the padding into total_len, which is no longer read.
        self.update(&padding[..pad_len + 8]);
        debug_assert_eq!(self.block_len, 0);

        let mut digest = [0u8; DIGEST_LEN];
        for (out, word) in digest.chunks_exact_mut(4).zip(self.state) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        digest
    }
}

/// SHA-1 of `data` in one call.
pub fn sha1(data: &[u8]) -> [u8; DIGEST_LEN] {
    let mut hasher = Sha1::new();
    hasher.update(data);
    hasher.finalize()
}

fn compress(state: &mut [u32; 5], block: &[u8; BLOCK_LEN]) {
    let mut w = [0u32; 80];
    for (word, bytes) in w.iter_mut().zip(block.chunks_exact(4)) {
        *word = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    for t in 16..80 {
        w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
    }

    let [mut a, mut b, mut c, mut d, mut e] = *state;
    for (t, &word) in w.iter().enumerate() {
        let (f, k) = match t {
            0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
            20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
            40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
            _ => (b ^ c ^ d, 0xCA62_C1D6),
        };
        let temp = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k)
            .wrapping_add(word);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = temp;
    }
    for (slot, value) in state.iter_mut().zip([a, b, c, d, e]) {
        *slot = slot.wrapping_add(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(digest: &[u8]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 3174 §7.3 TEST1..TEST4 (with their repeat counts), plus the empty message.
    #[test]
    fn rfc3174_vectors() {
        let cases: [(&[u8], usize, &str); 5] = [
            (b"", 1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            (b"abc", 1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                1,
                "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
            ),
            (b"a", 1_000_000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f"),
            (
                b"0123456701234567012345670123456701234567012345670123456701234567",
                10,
                "dea356a2cddd90c7a7ecedc5ebb563934f460452",
            ),
        ];
        for (data, repeat, expected) in cases {
            let whole = data.repeat(repeat);
            assert_eq!(hex(&sha1(&whole)), expected, "{:?} x{repeat}", data);
            // The same input fed piecewise, as the RFC's test driver does.
            let mut hasher = Sha1::new();
            for _ in 0..repeat {
                hasher.update(data);
            }
            assert_eq!(hex(&hasher.finalize()), expected);
        }
    }

    /// Padding boundaries: lengths around 55/56/64 bytes, compared against incremental feeding in
    /// every split, so the block buffer handling is exercised at every offset.
    #[test]
    fn incremental_matches_one_shot_at_every_split() {
        let data: Vec<u8> = (0..=200u8).collect();
        for len in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200] {
            let input = &data[..len];
            let expected = sha1(input);
            for split in 0..=len {
                let mut hasher = Sha1::new();
                hasher.update(&input[..split]);
                hasher.update(&input[split..]);
                assert_eq!(hasher.finalize(), expected, "len {len} split {split}");
            }
        }
    }

    /// Known digests at the padding boundaries (computed with coreutils `sha1sum`).
    #[test]
    fn padding_boundary_vectors() {
        let cases = [
            (55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"),
            (56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"),
            (64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"),
        ];
        for (len, expected) in cases {
            assert_eq!(hex(&sha1(&vec![b'a'; len])), expected, "{len} x 'a'");
        }
    }
}
