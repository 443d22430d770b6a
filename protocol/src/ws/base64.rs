//! Base64 with the standard alphabet and `=` padding (RFC 4648 §4), for the WebSocket handshake
//! keys. The decoder is strict: it accepts exactly the canonical encodings (RFC 4648 §3.5), i.e.
//! padding is required, no whitespace, and the unused bits of the last symbol must be zero. So
//! every accepted string is the encoding of exactly one byte string.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Marks bytes outside the alphabet in [`DECODE`].
const INVALID: u8 = 0xFF;

/// Symbol value of each byte, or [`INVALID`].
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The length is not a multiple of 4.
    Length,
    /// A byte outside the alphabet, or misplaced padding.
    Symbol,
    /// The unused low bits of the last symbol are not zero (a non-canonical encoding).
    TrailingBits,
    /// The decoded bytes don't fit the output buffer.
    OutputTooSmall,
}

/// Length of the encoding of `input_len` bytes, or None on overflow.
pub const fn encoded_len(input_len: usize) -> Option<usize> {
    let groups = input_len.div_ceil(3);
    groups.checked_mul(4)
}

/// Encodes `input` into the front of `out`; returns the encoded length, or None if `out` is too
/// small (then `out` is left untouched).
pub fn encode_into(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = encoded_len(input.len())?;
    let out = out.get_mut(..len)?;
    for (group, dst) in input.chunks(3).zip(out.chunks_exact_mut(4)) {
        let b0 = group[0];
        let b1 = group.get(1).copied().unwrap_or(0);
        let b2 = group.get(2).copied().unwrap_or(0);
        let n = u32::from(b0) << 16 | u32::from(b1) << 8 | u32::from(b2);
        dst[0] = ALPHABET[(n >> 18) as usize & 63];
        dst[1] = ALPHABET[(n >> 12) as usize & 63];
        dst[2] = if group.len() > 1 {
            ALPHABET[(n >> 6) as usize & 63]
        } else {
            b'='
        };
        dst[3] = if group.len() > 2 {
            ALPHABET[n as usize & 63]
        } else {
            b'='
        };
    }
    Some(len)
}

/// Appends the encoding of `input` to `out`.
pub fn encode(input: &[u8], out: &mut Vec<u8>) {
    let Some(len) = encoded_len(input.len()) else {
        // Unreachable for any slice that fits in memory: 4/3 of it would not.
        return;
    };
    let start = out.len();
    out.resize(start + len, 0);
    let written = encode_into(input, &mut out[start..]);
    debug_assert_eq!(written, Some(len));
}

/// Decodes `input` into the front of `out`; returns the decoded length.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<usize, DecodeError> {
    if !input.len().is_multiple_of(4) {
        return Err(DecodeError::Length);
    }
    let mut written = 0;
    let groups = input.len() / 4;
    for (index, group) in input.chunks_exact(4).enumerate() {
        let last = index + 1 == groups;
        let padding = match group {
            [_, _, b'=', b'='] if last => 2,
            [_, _, _, b'='] if last => 1,
            _ => 0,
        };
        let symbols = &group[..4 - padding];
        let mut n = 0u32;
        for &symbol in symbols {
            let value = DECODE[usize::from(symbol)];
            if value == INVALID {
                return Err(DecodeError::Symbol);
            }
            n = n << 6 | u32::from(value);
        }
        n <<= 6 * padding as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let produced = 3 - padding;
        // Canonical: the bits dropped by the padding must be zero.
        if bytes[produced..].iter().any(|&b| b != 0) {
            return Err(DecodeError::TrailingBits);
        }
        let end = written + produced;
        let dst = out
            .get_mut(written..end)
            .ok_or(DecodeError::OutputTooSmall)?;
        dst.copy_from_slice(&bytes[..produced]);
        written = end;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10.
    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors() {
        for (plain, encoded) in VECTORS {
            let mut out = b"prefix".to_vec();
            encode(plain.as_bytes(), &mut out);
            assert_eq!(&out[6..], encoded.as_bytes(), "{plain:?}");
            assert_eq!(encoded_len(plain.len()), Some(encoded.len()));

            let mut decoded = [0u8; 8];
            let len = decode(encoded.as_bytes(), &mut decoded).unwrap();
            assert_eq!(&decoded[..len], plain.as_bytes(), "{encoded:?}");
        }
    }

    #[test]
    fn round_trips_every_length_and_byte() {
        let data: Vec<u8> = (0..=255u8).rev().chain(0..=255).collect();
        for len in 0..=data.len() {
            let input = &data[..len];
            let mut encoded = Vec::new();
            encode(input, &mut encoded);
            assert!(encoded.iter().all(|b| ALPHABET.contains(b) || *b == b'='));
            let mut decoded = vec![0u8; len];
            assert_eq!(decode(&encoded, &mut decoded), Ok(len));
            assert_eq!(decoded, input);
        }
    }

    #[test]
    fn encode_into_checks_the_output_size() {
        let mut small = [0u8; 7];
        assert_eq!(encode_into(b"foobar", &mut small), None);
        assert_eq!(small, [0; 7]);
        let mut exact = [0u8; 8];
        assert_eq!(encode_into(b"foobar", &mut exact), Some(8));
        assert_eq!(&exact, b"Zm9vYmFy");
    }

    #[test]
    fn rejects_non_canonical_and_malformed_input() {
        let cases: [(&[u8], DecodeError); 14] = [
            (b"Z", DecodeError::Length),
            (b"Zg=", DecodeError::Length),
            (b"Zm9vY", DecodeError::Length),
            (b"Zg", DecodeError::Length),
            (b"Zh==", DecodeError::TrailingBits),
            (b"Zm9=", DecodeError::TrailingBits),
            (b"Zg=a", DecodeError::Symbol),
            (b"Z===", DecodeError::Symbol),
            (b"====", DecodeError::Symbol),
            (b"Zg==Zg==", DecodeError::Symbol),
            (b"Zm9v Zm9", DecodeError::Symbol),
            (b"Zm9-", DecodeError::Symbol),
            (b"Zm9_", DecodeError::Symbol),
            (b"Zm\x009", DecodeError::Symbol),
        ];
        for (input, error) in cases {
            let mut out = [0u8; 16];
            assert_eq!(
                decode(input, &mut out),
                Err(error),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn decode_checks_the_output_size() {
        let mut out = [0u8; 5];
        assert_eq!(
            decode(b"Zm9vYmFy", &mut out),
            Err(DecodeError::OutputTooSmall)
        );
        let mut out = [0u8; 2];
        assert_eq!(decode(b"Zm8=", &mut out), Ok(2));
        assert_eq!(&out, b"fo");
    }

    #[test]
    fn every_byte_is_classified() {
        for byte in 0..=255u8 {
            let valid = byte.is_ascii_alphanumeric() || byte == b'+' || byte == b'/';
            assert_eq!(DECODE[usize::from(byte)] != INVALID, valid, "{byte:#04x}");
        }
    }
}
