//! Appending numbers to a `String` as text, for the names and addresses the loader makes by the
//! thousand (`<entry>-<i>` per `pairs` flow, `<name>_<i>` and an address per scale-set
//! instance).
//!
//! What it is for: the exact text `to_string()` gives for a `u64` and an IPv4 address, written
//! straight into the caller's buffer, without the formatting machinery's per-call cost. What it
//! is not: general formatting (no width, padding or other bases); messages keep `format!`.

use std::net::Ipv4Addr;

/// The two-digit decimal texts `00` to `99`, one after the other.
const TWO_DIGITS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

/// Appends `n` in decimal, as `n.to_string()` writes it.
pub(crate) fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    // Two digits a step, from the right.
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&TWO_DIGITS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&TWO_DIGITS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + n as u8;
    }
    push_ascii(out, &digits[at..]);
}

/// Appends `ip` in dotted-quad form, as `ip.to_string()` writes it.
pub(crate) fn push_ipv4(out: &mut String, ip: Ipv4Addr) {
    let mut text = [0u8; 15];
    let mut len = 0;
    for (k, octet) in ip.octets().into_iter().enumerate() {
        if k > 0 {
            text[len] = b'.';
            len += 1;
        }
        if octet >= 100 {
            text[len] = b'0' + octet / 100;
            len += 1;
        }
        if octet >= 10 {
            text[len] = b'0' + octet / 10 % 10;
            len += 1;
        }
        text[len] = b'0' + octet % 10;
        len += 1;
    }
    push_ascii(out, &text[..len]);
}

/// Appends bytes that are ASCII digits and dots.
fn push_ascii(out: &mut String, bytes: &[u8]) {
    debug_assert!(bytes.iter().all(|b| b.is_ascii_digit() || *b == b'.'));
    // SAFETY: both callers pass only ASCII digits and dots, which are valid UTF-8 on their own.
    out.push_str(unsafe { std::str::from_utf8_unchecked(bytes) });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn u64_text(n: u64) -> String {
        let mut s = String::new();
        push_u64(&mut s, n);
        s
    }

    fn ipv4_text(ip: Ipv4Addr) -> String {
        let mut s = String::new();
        push_ipv4(&mut s, ip);
        s
    }

    #[test]
    fn integers_at_the_edges() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            999_999,
            1_000_000,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(u64_text(n), n.to_string());
        }
        assert_eq!(u64_text(0), "0");
        assert_eq!(u64_text(1_000_000), "1000000");
        assert_eq!(u64_text(u64::MAX), "18446744073709551615");
    }

    #[test]
    fn the_two_digit_table_holds_00_to_99() {
        for n in 0..100 {
            assert_eq!(&TWO_DIGITS[2 * n..2 * n + 2], format!("{n:02}").as_bytes());
        }
        for n in 0..1000 {
            assert_eq!(u64_text(n), n.to_string());
        }
    }

    #[test]
    fn addresses_at_the_edges() {
        for (ip, text) in [
            (Ipv4Addr::UNSPECIFIED, "0.0.0.0"),
            (Ipv4Addr::BROADCAST, "255.255.255.255"),
            (Ipv4Addr::new(10, 0, 1, 4), "10.0.1.4"),
            (Ipv4Addr::new(100, 9, 10, 99), "100.9.10.99"),
            (Ipv4Addr::new(1, 200, 0, 109), "1.200.0.109"),
        ] {
            assert_eq!(ipv4_text(ip), text);
            assert_eq!(ipv4_text(ip), ip.to_string());
        }
    }

    #[test]
    fn text_already_there_is_kept() {
        let mut s = String::from("web-");
        push_u64(&mut s, 42);
        s.push('@');
        push_ipv4(&mut s, Ipv4Addr::new(10, 1, 2, 3));
        assert_eq!(s, "web-42@10.1.2.3");
    }

    proptest! {
        /// Any integer: the text `to_string()` gives.
        #[test]
        fn any_integer_is_written_as_to_string_writes_it(n in any::<u64>(), small in 0u64..100_000) {
            prop_assert_eq!(u64_text(n), n.to_string());
            prop_assert_eq!(u64_text(small), small.to_string());
        }

        /// Any address: the text `to_string()` gives, which parses back to it.
        #[test]
        fn any_address_is_written_as_to_string_writes_it(bits in any::<u32>(), octets in any::<[u8; 4]>()) {
            for ip in [Ipv4Addr::from(bits), Ipv4Addr::from(octets)] {
                let text = ipv4_text(ip);
                prop_assert_eq!(&text, &ip.to_string());
                prop_assert_eq!(text.parse::<Ipv4Addr>().ok(), Some(ip));
            }
        }
    }
}
