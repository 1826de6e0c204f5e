//! Medical registration numbers (医籍登録番号) as written in files: digits, possibly full-width,
//! possibly zero-padded. Stored without leading zeros.

use crate::import::RowErrorKind;

/// The canonical form of a registration number, or why the text is not one.
pub fn normalize(text: &str) -> Result<String, RowErrorKind> {
    let t = text.trim();
    let not_a_number = || RowErrorKind::NotARegistrationNumber { value: t.to_owned() };
    let mut digits = String::with_capacity(t.len());
    for ch in t.chars() {
        match ch {
            '0'..='9' => digits.push(ch),
            '０'..='９' => digits.push(char::from(b'0' + (u32::from(ch) - u32::from('０')) as u8)),
            _ => return Err(not_a_number()),
        }
    }
    let canonical = digits.trim_start_matches('0');
    if canonical.is_empty() || canonical.len() > 8 {
        return Err(not_a_number());
    }
    Ok(canonical.to_owned())
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn canonical_forms() {
        assert_eq!(normalize("123456").unwrap(), "123456");
        assert_eq!(normalize(" 000123 ").unwrap(), "123");
        assert_eq!(normalize("１２３４５６").unwrap(), "123456");
        for bad in ["", "0", "12a", "123456789", "-1", "12 34"] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
        assert_eq!(
            normalize("12a").unwrap_err().to_string(),
            "`12a` is not a registration number (1 to 8 digits)"
        );
    }
}
