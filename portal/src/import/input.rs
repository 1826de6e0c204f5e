//! Reading a CSV file in UTF-8 or Shift_JIS: encoding detection, the header, and rows whose
//! fields are decoded one by one, so that a badly encoded field rejects its row, not the file.
//! Fields are trimmed and lose the formula escape of the export ([`cell::unescape`]).
//!
//! CSV structure is parsed on the raw bytes: in Shift_JIS every second byte of a two-byte
//! character is 0x40 or above, so commas, quotes and line ends are never part of a character.

use std::fmt;
use std::str::FromStr;

use crate::import::cell;
use crate::import::report::{ImportError, RowError, RowErrorKind};

/// How a file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 when the whole file is valid UTF-8 (a BOM is skipped), else Shift_JIS when the whole
    /// file is valid Shift_JIS, else UTF-8 (rows with invalid bytes are rejected).
    Auto,
    /// UTF-8.
    Utf8,
    /// Shift_JIS as Windows writes it (CP932, the superset Japanese spreadsheets use).
    ShiftJis,
}

impl FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "utf-8" | "utf8" => Ok(Self::Utf8),
            "shift_jis" | "shift-jis" | "sjis" | "cp932" | "windows-31j" => Ok(Self::ShiftJis),
            _ => Err(format!("unknown encoding `{s}`: use auto, utf-8 or shift_jis")),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Utf8 => "UTF-8",
            Self::ShiftJis => "Shift_JIS",
        })
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The encoding `data` is read in (never [`Encoding::Auto`]).
pub fn detect(data: &[u8], chosen: Encoding) -> Encoding {
    match chosen {
        Encoding::Auto if data.starts_with(BOM) || std::str::from_utf8(data).is_ok() => Encoding::Utf8,
        Encoding::Auto
            if encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(data).is_some() =>
        {
            Encoding::ShiftJis
        }
        Encoding::Auto => Encoding::Utf8,
        other => other,
    }
}

fn decode(bytes: &[u8], encoding: Encoding) -> Option<std::borrow::Cow<'_, str>> {
    match encoding {
        Encoding::ShiftJis => {
            encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(bytes)
        }
        Encoding::Utf8 | Encoding::Auto => std::str::from_utf8(bytes).ok().map(std::borrow::Cow::Borrowed),
    }
}

/// A CSV file with a checked header.
#[derive(Debug)]
pub struct Table<'a> {
    data: &'a [u8],
    /// The encoding used.
    pub encoding: Encoding,
    columns: Vec<String>,
}

/// One data row: its line and its fields by column name.
#[derive(Debug)]
pub struct Row<'t> {
    /// 1-based line where the row starts.
    pub line: u64,
    /// Offset of the row's end in the file (for progress).
    pub end_byte: u64,
    columns: &'t [String],
    /// The fields in column order, trimmed, formula escape removed ([`cell::unescape`]).
    fields: Vec<String>,
}

impl Row<'_> {
    /// The trimmed field of `column` (formula escape removed); empty when the column is absent.
    pub fn get(&self, column: &str) -> &str {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.fields.get(i))
            .map_or("", String::as_str)
    }

    /// The trimmed field, `None` when empty or absent.
    pub fn opt(&self, column: &str) -> Option<&str> {
        Some(self.get(column)).filter(|s| !s.is_empty())
    }
}

impl<'a> Table<'a> {
    /// Reads the header of `data`: every `required` column present, every column known.
    pub fn open(
        data: &'a [u8],
        chosen: Encoding,
        required: &[&str],
        optional: &[&str],
    ) -> Result<Self, ImportError> {
        let encoding = detect(data, chosen);
        let data = data.strip_prefix(BOM).unwrap_or(data);
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data);
        let mut header = csv::ByteRecord::new();
        if !reader.read_byte_record(&mut header).unwrap_or(false) {
            return Err(ImportError::Empty);
        }
        let mut columns = Vec::new();
        for raw in &header {
            let name = decode(raw, encoding).ok_or(ImportError::HeaderEncoding(encoding))?;
            let name = name.trim().to_ascii_lowercase();
            if !required.contains(&name.as_str()) && !optional.contains(&name.as_str()) {
                let known = required.iter().chain(optional).copied().collect::<Vec<_>>().join(", ");
                return Err(ImportError::UnknownColumn { column: name, known });
            }
            if columns.contains(&name) {
                return Err(ImportError::DuplicateColumn(name));
            }
            columns.push(name);
        }
        if let Some(missing) = required.iter().find(|r| !columns.iter().any(|c| c == *r)) {
            return Err(ImportError::MissingColumn((*missing).to_owned()));
        }
        Ok(Self { data, encoding, columns })
    }

    /// The data rows in order: a row, or the error that rejects it (wrong field count, a field
    /// not valid in the encoding). Blank lines are skipped.
    pub fn rows(&self) -> impl Iterator<Item = Result<Row<'_>, RowError>> + '_ {
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(self.data);
        let mut record = csv::ByteRecord::new();
        std::iter::from_fn(move || {
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(false) => return None,
                    Ok(true) => {}
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        let detail = e.to_string();
                        return Some(Err(RowError::row(line, RowErrorKind::UnreadableCsv { detail })));
                    }
                }
                let line = record.position().map_or(0, |p| self.line_of(p));
                let end_byte = reader.position().byte();
                if record.len() == 1 && record.get(0).is_some_and(|f| f.iter().all(u8::is_ascii_whitespace)) {
                    continue;
                }
                return Some(self.row(&record, line, end_byte));
            }
        })
    }

    /// The line where a record really starts: the reader counts blank lines skipped before it
    /// as part of it.
    fn line_of(&self, pos: &csv::Position) -> u64 {
        let mut line = pos.line();
        let start = usize::try_from(pos.byte()).unwrap_or(usize::MAX);
        for b in self.data.iter().skip(start).take_while(|b| matches!(b, b'\r' | b'\n')) {
            if *b == b'\n' {
                line += 1;
            }
        }
        line
    }

    fn row(&self, record: &csv::ByteRecord, line: u64, end_byte: u64) -> Result<Row<'_>, RowError> {
        if record.len() != self.columns.len() {
            let (expected, found) = (self.columns.len(), record.len());
            return Err(RowError::row(line, RowErrorKind::FieldCount { expected, found }));
        }
        let mut fields = Vec::with_capacity(self.columns.len());
        for (column, raw) in self.columns.iter().zip(record) {
            let value = decode(raw, self.encoding).ok_or_else(|| {
                let kind = match self.encoding {
                    Encoding::ShiftJis => RowErrorKind::NotShiftJis,
                    _ => RowErrorKind::NotUtf8,
                };
                RowError::at(line, column, kind)
            })?;
            fields.push(cell::unescape(value.trim()).to_owned());
        }
        Ok(Row { line, end_byte, columns: &self.columns, fields })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_utf8_bom_and_shift_jis() {
        assert_eq!(detect("a,b\n山田,1\n".as_bytes(), Encoding::Auto), Encoding::Utf8);
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("a,b\nヤマダ,1\n");
        assert_eq!(detect(&sjis, Encoding::Auto), Encoding::ShiftJis);
        assert_eq!(detect(&sjis, Encoding::Utf8), Encoding::Utf8);
        assert_eq!(detect(b"a\n\xff\xff\n", Encoding::Auto), Encoding::Utf8);
    }

    #[test]
    fn header_checks() {
        let t = Table::open(b"\xEF\xBB\xBFA, b\n1,2\n", Encoding::Auto, &["a"], &["b"]).unwrap();
        let rows: Vec<_> = t.rows().collect();
        assert_eq!(rows.len(), 1);
        let row = rows[0].as_ref().unwrap();
        assert_eq!((row.line, row.get("a"), row.get("b")), (2, "1", "2"));
        let err = |data: &[u8]| Table::open(data, Encoding::Auto, &["a"], &["b"]).unwrap_err().to_string();
        assert_eq!(err(b"b\n1\n"), "line 1: missing column `a`");
        assert_eq!(err(b"a,c\n"), "line 1: unknown column `c` (known: a, b)");
        assert_eq!(err(b"a,a\n"), "line 1: column `a` appears twice");
        assert_eq!(err(b""), "line 1: the file is empty; expected a header line");
    }

    #[test]
    fn rows_with_bad_shape_or_bytes_are_rejected_alone() {
        let t =
            Table::open(b"a,b\n1,2\n1\n\n\xff,2\n\"x\ny\",3\n", Encoding::Utf8, &["a", "b"], &[]).unwrap();
        let rows: Vec<_> = t.rows().collect();
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert_eq!(rows[1].as_ref().unwrap_err().to_string(), "line 3: expected 2 fields, found 1");
        assert_eq!(
            rows[2].as_ref().unwrap_err().to_string(),
            "line 5, column a: not valid UTF-8 (save the file as UTF-8 or Shift_JIS and import it again)"
        );
        assert_eq!(rows[3].as_ref().unwrap().get("a"), "x\ny");
        assert_eq!(rows[3].as_ref().unwrap().line, 6);
    }

    #[test]
    fn fields_are_trimmed_then_lose_the_formula_escape() {
        let t = Table::open(b"a,b\n  '=1 ,'x\n''@2,\"'\t3\"\n", Encoding::Utf8, &["a", "b"], &[]).unwrap();
        let rows: Vec<_> = t.rows().map(Result::unwrap).collect();
        assert_eq!((rows[0].get("a"), rows[0].get("b")), ("=1", "'x"));
        assert_eq!((rows[1].get("a"), rows[1].get("b")), ("'@2", "\t3"));
        assert_eq!(rows[1].get("c"), "");
    }
}
