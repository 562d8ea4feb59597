//! The deterministic hashes behind `uniqueString` and `guid`, byte-exact with what Azure
//! Resource Manager computes.
//!
//! What it is for: `uniqueString(a, b, ...)` is ARM's 64-bit Murmur variant (two 32-bit
//! lanes, Murmur3 constants) over the UTF-8 of the arguments joined with `-`, written as 13
//! base32 characters (`a`-`z`, `2`-`7`) from the most significant bits; `guid(a, b, ...)` is
//! an RFC 4122 version-5 (SHA-1) UUID of the same joined string in ARM's namespace
//! `11fb06fb-712d-4ddd-98c7-e71bbd588830`. Sources: the ARM expression engine
//! (`Azure.Deployments.Expression`, `ExpressionBuiltInFunctions.UniqueString` / `Guid`,
//! `ComputeHash.MurmurHash64`) and
//! <https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-string#uniquestring>.
//! What it is not: a general-purpose or cryptographic hashing library.

/// ARM's `MurmurHash64` (seed 0) of `data`.
pub fn murmur64(data: &[u8]) -> u64 {
    const C1: u32 = 597_399_067; // 0x239b961b
    const C2: u32 = 2_869_860_233; // 0xab0e9789
    let len = data.len();
    let (mut h1, mut h2) = (0u32, 0u32);
    let word = |b: &[u8]| {
        b.iter()
            .rev()
            .fold(0u32, |acc, &x| (acc << 8) | u32::from(x))
    };
    let mut i = 0;
    while i + 7 < len {
        let k1 = word(&data[i..i + 4])
            .wrapping_mul(C1)
            .rotate_left(15)
            .wrapping_mul(C2);
        h1 = (h1 ^ k1)
            .rotate_left(19)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(1_444_728_091);
        let k2 = word(&data[i + 4..i + 8])
            .wrapping_mul(C2)
            .rotate_left(17)
            .wrapping_mul(C1);
        h2 = (h2 ^ k2)
            .rotate_left(13)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(197_830_471);
        i += 8;
    }
    let tail = len - i;
    if tail > 0 {
        let k1 = word(&data[i..i + tail.min(4)])
            .wrapping_mul(C1)
            .rotate_left(15)
            .wrapping_mul(C2);
        h1 ^= k1;
        if tail > 4 {
            let k2 = word(&data[i + 4..len])
                .wrapping_mul(C2)
                .rotate_left(17)
                .wrapping_mul(C1);
            h2 ^= k2;
        }
    }
    // ARM truncates the length to 32 bits.
    h1 ^= len as u32;
    h2 ^= len as u32;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix32(h1);
    h2 = fmix32(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (u64::from(h2) << 32) | u64::from(h1)
}

fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(2_246_822_507);
    h ^= h >> 13;
    h = h.wrapping_mul(3_266_489_909);
    h ^ (h >> 16)
}

/// ARM's base32 of a 64-bit value: 13 characters, five bits at a time from the top.
pub fn base32_13(mut v: u64) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut s = String::with_capacity(13);
    for _ in 0..13 {
        s.push(char::from(ALPHABET[(v >> 59) as usize]));
        v <<= 5;
    }
    s
}

/// `uniqueString(parts...)`: the parts joined with `-`, hashed, base32.
pub fn unique_string(parts: &[&str]) -> String {
    base32_13(murmur64(parts.join("-").as_bytes()))
}

/// ARM's namespace for `guid()` (RFC 4122 byte order).
const ARM_NAMESPACE: [u8; 16] = [
    0x11, 0xfb, 0x06, 0xfb, 0x71, 0x2d, 0x4d, 0xdd, 0x98, 0xc7, 0xe7, 0x1b, 0xbd, 0x58, 0x88, 0x30,
];

/// `guid(parts...)`: a version-5 UUID of the parts joined with `-` in ARM's namespace,
/// lower-case with hyphens.
pub fn guid(parts: &[&str]) -> String {
    let mut input = ARM_NAMESPACE.to_vec();
    input.extend_from_slice(parts.join("-").as_bytes());
    let h = sha1(&input);
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// SHA-1 (FIPS 180-4), only for UUID version 5.
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, c) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn sha1_matches_fips_180_vectors() {
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
    }

    /// Azure's own published value: Azure/terraform-provider-azapi,
    /// internal/services/functions/unique_string_function_test.go (`cwvxuqg24sifi`), whose
    /// provider function reproduces ARM's `uniqueString`.
    #[test]
    fn unique_string_matches_azure_published_value() {
        assert_eq!(
            unique_string(&[
                "/subscriptions/00000000-0000-0000-0000-000000000000",
                "resource-id"
            ]),
            "cwvxuqg24sifi"
        );
    }

    #[test]
    fn unique_string_is_13_base32_characters_for_every_tail_length() {
        for n in 0..40 {
            let s = unique_string(&[&"x".repeat(n)]);
            assert_eq!(s.len(), 13);
            assert!(
                s.bytes()
                    .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)),
                "{s}"
            );
        }
        // Different tails give different hashes (every tail branch reaches the result).
        let all: std::collections::BTreeSet<String> =
            (0..40).map(|n| unique_string(&[&"x".repeat(n)])).collect();
        assert_eq!(all.len(), 40);
    }

    #[test]
    fn base32_takes_five_bits_from_the_top() {
        assert_eq!(base32_13(0), "aaaaaaaaaaaaa");
        assert_eq!(base32_13(u64::MAX), "7777777777776");
        assert_eq!(base32_13(1 << 59), "baaaaaaaaaaaa");
    }
}
