//! A minimal DER writer for the test PKI (encoding only; parsing and signatures are elsewhere).

use der::asn1::ObjectIdentifier;
use time::OffsetDateTime;

pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

pub(crate) fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A SET OF, sorted as DER requires.
pub(crate) fn set(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut sorted = parts.to_vec();
    sorted.sort();
    tlv(0x31, &sorted.concat())
}

/// OBJECT IDENTIFIER from dotted text; an invalid OID is reported in the value.
pub(crate) fn oid(dotted: &str) -> Result<Vec<u8>, String> {
    let oid = ObjectIdentifier::new(dotted).map_err(|e| format!("OID {dotted}: {e}"))?;
    Ok(tlv(0x06, oid.as_bytes()))
}

/// Content bytes of an OID (for IMPLICIT tagging).
pub(crate) fn oid_content(dotted: &str) -> Result<Vec<u8>, String> {
    let oid = ObjectIdentifier::new(dotted).map_err(|e| format!("OID {dotted}: {e}"))?;
    Ok(oid.as_bytes().to_vec())
}

/// INTEGER from a big-endian magnitude.
pub(crate) fn uint(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = if trimmed.is_empty() { vec![0] } else { trimmed };
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    tlv(0x02, &content)
}

pub(crate) fn uint_u64(v: u64) -> Vec<u8> {
    uint(&v.to_be_bytes())
}

pub(crate) fn boolean(v: bool) -> Vec<u8> {
    tlv(0x01, &[if v { 0xff } else { 0 }])
}

pub(crate) fn null() -> Vec<u8> {
    vec![0x05, 0x00]
}

pub(crate) fn octets(bytes: &[u8]) -> Vec<u8> {
    tlv(0x04, bytes)
}

pub(crate) fn bits(bytes: &[u8], unused: u8) -> Vec<u8> {
    let mut content = vec![unused];
    content.extend_from_slice(bytes);
    tlv(0x03, &content)
}

pub(crate) fn utf8(s: &str) -> Vec<u8> {
    tlv(0x0c, s.as_bytes())
}

pub(crate) fn printable(s: &str) -> Vec<u8> {
    tlv(0x13, s.as_bytes())
}

pub(crate) fn ia5(s: &str) -> Vec<u8> {
    tlv(0x16, s.as_bytes())
}

pub(crate) fn bmp(s: &str) -> Vec<u8> {
    let bytes: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
    tlv(0x1e, &bytes)
}

/// `[n]` EXPLICIT (constructed context-specific).
pub(crate) fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, inner)
}

/// UTCTime before 2050, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5).
pub(crate) fn time(t: OffsetDateTime) -> Vec<u8> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let rest =
        format!("{:02}{:02}{:02}{:02}{:02}Z", u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second());
    if t.year() < 2050 {
        tlv(0x17, format!("{:02}{rest}", t.year() % 100).as_bytes())
    } else {
        tlv(0x18, format!("{:04}{rest}", t.year()).as_bytes())
    }
}

/// KeyUsage BIT STRING value from bit numbers (0 = digitalSignature … 8 = decipherOnly).
pub(crate) fn key_usage(bits_set: &[u8]) -> Vec<u8> {
    let mut value: u16 = 0;
    for b in bits_set {
        if *b < 16 {
            value |= 0x8000 >> b;
        }
    }
    if value == 0 {
        return bits(&[], 0);
    }
    let bytes = value.to_be_bytes();
    let tz = value.trailing_zeros() as u8;
    if tz >= 8 { bits(&bytes[..1], tz - 8) } else { bits(&bytes, tz) }
}

/// A PEM block with 64-column base64.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
