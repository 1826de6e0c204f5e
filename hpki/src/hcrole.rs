//! hcRole (`1.0.17090.0.1`) inside subjectDirectoryAttributes (docs/design.md §6).
//!
//! ```text
//! SubjectDirectoryAttributes ::= SEQUENCE OF Attribute
//! Attribute    ::= SEQUENCE { type OID, values SET OF HCActorData }
//! HCActorData  ::= SET OF HCActor
//! HCActor      ::= SEQUENCE { codedData [0] EXPLICIT CodedData, ... }
//! CodedData    ::= SET { codingSchemeReference [0] EXPLICIT OID (1.2.392.100495.1.6.1.1),
//!                        codeDataValue [1] EXPLICIT ... OPTIONAL,
//!                        codeDataFreeText [2] EXPLICIT DirectoryString }
//! ```

use x509_parser::asn1_rs::{Class, Tag};

use crate::der_walk::{self, Walk, WalkError};
use crate::errors::{Error, malformed};
use crate::oids;

/// Reads every hcRole value (`codeDataFreeText`, e.g. `Medical Doctor`) from the DER value of a
/// subjectDirectoryAttributes extension. Other attributes are ignored; a malformed hcRole
/// (implicit tags, wrong coding scheme, empty set or text, non-DirectoryString) is an error.
pub fn roles_from_subject_directory_attributes(der: &[u8]) -> Result<Vec<String>, Error> {
    walk(der).map_err(|e| malformed(format!("subjectDirectoryAttributes: {}", e.0)))
}

fn walk(der: &[u8]) -> Walk<Vec<String>> {
    let top = der_walk::single(der)?;
    let attributes = der_walk::universal_constructed(&top, Tag::Sequence, "attributes")?;
    if attributes.is_empty() {
        return Err(WalkError("no attribute".into()));
    }
    let mut roles = Vec::new();
    for attribute in &attributes {
        let parts = der_walk::universal_constructed(attribute, Tag::Sequence, "attribute")?;
        let [kind, values] = parts.as_slice() else {
            return Err(WalkError("attribute is not {type, values}".into()));
        };
        if der_walk::oid(kind, "attribute type")? != oids::HC_ROLE {
            continue;
        }
        let values = der_walk::universal_constructed(values, Tag::Set, "hcRole values")?;
        if values.is_empty() {
            return Err(WalkError("hcRole has no value".into()));
        }
        for actor_data in &values {
            let actors = der_walk::universal_constructed(actor_data, Tag::Set, "HCActorData")?;
            if actors.is_empty() {
                return Err(WalkError("HCActorData is empty".into()));
            }
            for actor in &actors {
                roles.push(actor_role(actor)?);
            }
        }
    }
    Ok(roles)
}

fn actor_role(actor: &x509_parser::asn1_rs::Any<'_>) -> Walk<String> {
    let fields = der_walk::universal_constructed(actor, Tag::Sequence, "HCActor")?;
    let first = fields.first().ok_or_else(|| WalkError("HCActor is empty".into()))?;
    let coded = der_walk::explicit(first, 0, "HCActor.codedData")?;
    let parts = der_walk::universal_constructed(&coded, Tag::Set, "CodedData")?;
    let mut scheme = None;
    let mut text = None;
    for part in &parts {
        if part.header.class() != Class::ContextSpecific {
            return Err(WalkError("CodedData: untagged field".into()));
        }
        match part.header.tag().0 {
            0 => {
                let inner = der_walk::explicit(part, 0, "codingSchemeReference")?;
                scheme = Some(der_walk::oid(&inner, "codingSchemeReference")?);
            }
            1 => {
                der_walk::explicit(part, 1, "codeDataValue")?;
            }
            2 => {
                let inner = der_walk::explicit(part, 2, "codeDataFreeText")?;
                text = Some(der_walk::directory_string(&inner, "codeDataFreeText")?);
            }
            n => return Err(WalkError(format!("CodedData: unexpected field [{n}]"))),
        }
    }
    match scheme.as_deref() {
        Some(oids::HC_ROLE_CODING_SCHEME) => {}
        Some(other) => {
            return Err(WalkError(format!(
                "codingSchemeReference {other} is not {}",
                oids::HC_ROLE_CODING_SCHEME
            )));
        }
        None => return Err(WalkError("codingSchemeReference missing".into())),
    }
    let text = text.ok_or_else(|| WalkError("codeDataFreeText missing".into()))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(WalkError("codeDataFreeText is empty".into()));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The subjectDirectoryAttributes value of the real MEDIS test doctor certificate.
    const REAL: &str = "303430320606288185420001312831263024A0223120A00C060A2A830886910F01060101A2100C0E4D65646963616C20446F63746F72";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn reads_real_hcrole() {
        assert_eq!(roles_from_subject_directory_attributes(&hex(REAL)).unwrap(), ["Medical Doctor"]);
    }

    #[test]
    fn refuses_truncated() {
        let der = hex(REAL);
        for len in 0..der.len() {
            assert!(roles_from_subject_directory_attributes(&der[..len]).is_err(), "len {len}");
        }
    }
}
