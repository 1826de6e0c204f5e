//! Small helpers to walk DER structures that x509-parser has no typed parser for.

use x509_parser::asn1_rs::{Any, Class, FromDer, Oid, Tag};

/// A walk failure; callers turn it into their own error with context.
#[derive(Debug)]
pub(crate) struct WalkError(pub(crate) String);

pub(crate) type Walk<T> = Result<T, WalkError>;

fn err<T>(msg: impl Into<String>) -> Walk<T> {
    Err(WalkError(msg.into()))
}

/// Parses exactly one DER element filling `input`.
pub(crate) fn single(input: &[u8]) -> Walk<Any<'_>> {
    match Any::from_der(input) {
        Ok(([], any)) => Ok(any),
        Ok(_) => err("trailing data after element"),
        Err(e) => err(format!("bad DER: {e}")),
    }
}

/// Parses the contents of a constructed element into its children.
pub(crate) fn children(mut input: &[u8]) -> Walk<Vec<Any<'_>>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        match Any::from_der(input) {
            Ok((rest, any)) => {
                out.push(any);
                input = rest;
            }
            Err(e) => return err(format!("bad DER: {e}")),
        }
    }
    Ok(out)
}

/// Checks a universal constructed element of `tag` and returns its children.
pub(crate) fn universal_constructed<'a>(any: &Any<'a>, tag: Tag, what: &str) -> Walk<Vec<Any<'a>>> {
    if any.header.class() != Class::Universal || any.header.tag() != tag || !any.header.is_constructed() {
        return err(format!(
            "{what}: expected {tag:?}, found {:?} {:?}",
            any.header.class(),
            any.header.tag()
        ));
    }
    children(any.data)
}

/// Unwraps an EXPLICIT context-specific tag `[n]`: a constructed element holding exactly one.
pub(crate) fn explicit<'a>(any: &Any<'a>, n: u32, what: &str) -> Walk<Any<'a>> {
    if any.header.class() != Class::ContextSpecific || any.header.tag() != Tag(n) {
        return err(format!("{what}: expected [{n}]"));
    }
    if !any.header.is_constructed() {
        return err(format!("{what}: [{n}] is IMPLICIT (primitive), EXPLICIT expected"));
    }
    single(any.data).map_err(|e| WalkError(format!("{what}: {}", e.0)))
}

/// Reads an OBJECT IDENTIFIER element as dotted text.
pub(crate) fn oid(any: &Any<'_>, what: &str) -> Walk<String> {
    if any.header.class() != Class::Universal || any.header.tag() != Tag::Oid || any.header.is_constructed() {
        return err(format!("{what}: expected an OBJECT IDENTIFIER"));
    }
    if any.data.is_empty() {
        return err(format!("{what}: empty OBJECT IDENTIFIER"));
    }
    let oid = Oid::new(std::borrow::Cow::Borrowed(any.data));
    Ok(oid.to_id_string())
}

/// Decodes any DirectoryString form (X.520): UTF8String, PrintableString, TeletexString
/// (read as ISO 8859-1), UniversalString, BMPString. Anything else is an error.
pub(crate) fn directory_string(any: &Any<'_>, what: &str) -> Walk<String> {
    if any.header.class() != Class::Universal || any.header.is_constructed() {
        return err(format!("{what}: expected a DirectoryString"));
    }
    let data = any.data;
    let text = match any.header.tag() {
        Tag::Utf8String => {
            std::str::from_utf8(data).map_err(|_| WalkError(format!("{what}: invalid UTF-8")))?.to_owned()
        }
        Tag::PrintableString => {
            if !data.iter().all(|b| is_printable(*b)) {
                return err(format!("{what}: invalid PrintableString"));
            }
            String::from_utf8_lossy(data).into_owned()
        }
        Tag::TeletexString => data.iter().map(|b| char::from(*b)).collect(),
        Tag::UniversalString => {
            if !data.len().is_multiple_of(4) {
                return err(format!("{what}: invalid UniversalString length"));
            }
            data.chunks_exact(4)
                .map(|c| {
                    char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .ok_or_else(|| WalkError(format!("{what}: invalid UniversalString")))
                })
                .collect::<Walk<String>>()?
        }
        Tag::BmpString => {
            if !data.len().is_multiple_of(2) {
                return err(format!("{what}: invalid BMPString length"));
            }
            let units: Vec<u16> = data.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            String::from_utf16(&units).map_err(|_| WalkError(format!("{what}: invalid BMPString")))?
        }
        other => return err(format!("{what}: {other:?} is not a DirectoryString")),
    };
    Ok(text)
}

fn is_printable(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b" '()+,-./:=?".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(der: &[u8]) -> Walk<String> {
        directory_string(&single(der)?, "test")
    }

    #[test]
    fn every_directory_string_form() {
        assert_eq!(read(&[0x0c, 2, b'O', b'K']).unwrap(), "OK");
        assert_eq!(read(&[0x13, 2, b'O', b'K']).unwrap(), "OK");
        assert_eq!(read(&[0x14, 2, b'O', 0xe9]).unwrap(), "Oé");
        assert_eq!(read(&[0x1c, 4, 0, 0, 0x30, 0x00]).unwrap(), "\u{3000}");
        assert_eq!(read(&[0x1e, 4, 0x79, 0x5e, 0x69, 0x7d]).unwrap(), "神楽");
    }

    #[test]
    fn other_forms_and_bad_encodings_are_refused() {
        for der in [
            &[0x16, 2, b'O', b'K'][..], // IA5String is not a DirectoryString
            &[0x02, 1, 1],              // INTEGER
            &[0x0c, 2, 0xff, 0xfe],     // invalid UTF-8
            &[0x13, 1, b'*'],           // not printable
            &[0x1e, 3, 0, 0x41, 0],     // odd BMPString
            &[0x1e, 2, 0xd8, 0x00],     // lone surrogate
            &[0x1c, 4, 0, 0x11, 0, 0],  // beyond Unicode
            &[0x0c, 5, b'a'],           // truncated
        ] {
            assert!(read(der).is_err(), "{der:02x?}");
        }
    }
}
