//! Distinguished names as text (`C=JP, O=MEDIS, CN=…`, in certificate order) and lookups.

use x509_parser::x509::X509Name;

use crate::der_walk;

const SHORT_NAMES: &[(&str, &str)] = &[
    ("2.5.4.6", "C"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "serialNumber"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.4", "SN"),
    ("2.5.4.42", "GN"),
    ("2.5.4.97", "organizationIdentifier"),
    ("1.2.840.113549.1.9.1", "emailAddress"),
];

pub(crate) const CN: &str = "2.5.4.3";
pub(crate) const O: &str = "2.5.4.10";
pub(crate) const SERIAL_NUMBER: &str = "2.5.4.5";

/// Renders a name in certificate order; values that are not strings are shown as `#hex`.
pub(crate) fn to_text(name: &X509Name<'_>) -> String {
    let mut parts = Vec::new();
    for rdn in name.iter_rdn() {
        let atvs: Vec<String> = rdn
            .iter()
            .map(|atv| {
                let oid = atv.attr_type().to_id_string();
                let key =
                    SHORT_NAMES.iter().find(|(o, _)| *o == oid).map(|(_, n)| (*n).to_owned()).unwrap_or(oid);
                let value = der_walk::directory_string(atv.attr_value(), "name")
                    .or_else(|_| ia5(atv.attr_value()))
                    .unwrap_or_else(|_| format!("#{}", hex(atv.attr_value().data)));
                format!("{key}={value}")
            })
            .collect();
        parts.push(atvs.join(" + "));
    }
    parts.join(", ")
}

fn ia5(any: &x509_parser::asn1_rs::Any<'_>) -> Result<String, ()> {
    if any.header.tag() == x509_parser::asn1_rs::Tag::Ia5String && any.data.is_ascii() {
        Ok(String::from_utf8_lossy(any.data).into_owned())
    } else {
        Err(())
    }
}

/// The first value of attribute `oid` as text (any DirectoryString form); `Err` if it is not a string.
pub(crate) fn first(name: &X509Name<'_>, oid: &str) -> Result<Option<String>, String> {
    for atv in name.iter_attributes() {
        if atv.attr_type().to_id_string() == oid {
            return der_walk::directory_string(atv.attr_value(), oid)
                .or_else(|_| ia5(atv.attr_value()).map_err(|_| der_walk::WalkError(String::new())))
                .map(Some)
                .map_err(|_| format!("attribute {oid} is not a string"));
        }
    }
    Ok(None)
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lower_case_two_digits_per_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(super::hex(&[]), "");
    }
}
