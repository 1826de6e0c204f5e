//! The PDF of a document: A4, a fixed layout (krilla draws single lines, no line breaking), an
//! embedded Japanese font, the rows table paginated, totals, the issue id and a QR code of the
//! verification URL drawn as rectangles on every page.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use krilla::Document;
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule};
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use qrcode::{Color, EcLevel, QrCode};
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

use crate::credits::rules::{CreditCode, code_short_label};
use crate::documents::content::{Content, Kind, Qualification, Row};
use crate::documents::japan_date;

/// Debian `fonts-noto-cjk`: Noto Sans CJK, collection index 0 is the Japanese face.
pub const DEFAULT_FONT_PATH: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

/// Japanese families looked for in the font directories when the configured file is absent, in
/// order of preference (gothic before mincho: the documents are set in a sans-serif).
pub const JAPANESE_FAMILIES: &[&str] = &[
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Source Han Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "TakaoGothic",
    "VL Gothic",
    "Noto Serif CJK JP",
    "IPAexMincho",
    "IPAMincho",
];

/// Characters a face must have to set a document when its family is none of
/// [`JAPANESE_FAMILIES`]: kana and the kanji of the titles.
const JAPANESE_SAMPLE: &[char] = &['あ', 'ア', '資', '格', '証', '明', '書', '単', '位'];

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const LEFT: f32 = 50.0;
const RIGHT: f32 = 545.0;
const TABLE_TOP: f32 = 200.0;
const ROW_H: f32 = 15.0;
const ROWS_BOTTOM: f32 = 680.0;
const BODY: f32 = 9.0;
/// Rows that fit on one page.
pub const ROWS_PER_PAGE: usize = ((ROWS_BOTTOM - TABLE_TOP - ROW_H) / ROW_H) as usize;

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The font file is not there (nor any Japanese font in the font directories).
    #[error(
        "no Japanese font for PDF documents: font file {0} (config key `portal_font_path`) not found and no Japanese font in the system font directories; install Debian package fonts-noto-cjk or set config key `portal_font_path` to a Japanese TrueType/OpenType font"
    )]
    FontMissing(PathBuf),
    /// The font file cannot be used.
    #[error("font file {0} is not a usable font (face {1})")]
    FontInvalid(PathBuf, u32),
    /// krilla refused the document.
    #[error("cannot write the PDF: {0}")]
    Write(String),
}

impl PdfError {
    /// Whether the font is missing or unusable (the operator must install one), rather than
    /// this document failing.
    pub fn is_font(&self) -> bool {
        matches!(self, Self::FontMissing(_) | Self::FontInvalid(..))
    }
}

/// Where fonts are looked for when the configured file is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FontSearch {
    /// The system font directories (`/usr/share/fonts`, `/usr/local/share/fonts`,
    /// `~/.fonts`, `~/.local/share/fonts` on Linux).
    System,
    /// These directories (searched recursively), and nothing else.
    Dirs(Vec<PathBuf>),
}

/// A font face: a file and the index of the face in it (0 unless a collection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FontFace {
    /// The font file.
    pub path: PathBuf,
    /// The face in the file.
    pub index: u32,
}

/// Whether face `index` of `data` has every character of [`JAPANESE_SAMPLE`].
fn covers_japanese(data: &[u8], index: u32) -> bool {
    FontRef::from_index(data, index).is_ok_and(|f| {
        let charmap = f.charmap();
        JAPANESE_SAMPLE.iter().all(|c| charmap.map(*c).is_some())
    })
}

/// A Japanese face in the font directories of `search`: the first of [`JAPANESE_FAMILIES`]
/// present (its regular weight), else any face that has kana and the documents' kanji.
pub fn discover(search: &FontSearch) -> Option<FontFace> {
    let mut db = fontdb::Database::new();
    match search {
        FontSearch::System => db.load_system_fonts(),
        FontSearch::Dirs(dirs) => dirs.iter().for_each(|d| db.load_fonts_dir(d)),
    }
    let families: Vec<fontdb::Family<'_>> =
        JAPANESE_FAMILIES.iter().map(|f| fontdb::Family::Name(f)).collect();
    let id = db.query(&fontdb::Query { families: &families, ..fontdb::Query::default() }).or_else(|| {
        let mut faces: Vec<&fontdb::FaceInfo> = db.faces().collect();
        // Regular upright faces first, then by path for a stable choice.
        faces.sort_by_key(|f| {
            (f.style != fontdb::Style::Normal, f.weight.0.abs_diff(400), face_path(&f.source), f.index)
        });
        faces.into_iter().map(|f| f.id).find(|id| db.with_face_data(*id, covers_japanese).unwrap_or(false))
    })?;
    let (source, index) = db.face_source(id)?;
    Some(FontFace { path: face_path(&source)?, index })
}

fn face_path(source: &fontdb::Source) -> Option<PathBuf> {
    match source {
        fontdb::Source::File(path) | fontdb::Source::SharedFile(path, _) => Some(path.clone()),
        fontdb::Source::Binary(_) => None,
    }
}

/// The font of the PDFs: the `configured` file (face 0) when it exists, else a Japanese face
/// of the font directories of `search` (no search with `None`).
pub fn locate(configured: &Path, search: Option<&FontSearch>) -> Result<FontFace, PdfError> {
    if configured.is_file() {
        return Ok(FontFace { path: configured.to_owned(), index: 0 });
    }
    search.and_then(discover).ok_or_else(|| PdfError::FontMissing(configured.to_owned()))
}

/// A loaded font, cheap to clone.
#[derive(Clone)]
pub struct PdfFont {
    font: Font,
    bytes: Arc<Vec<u8>>,
    face: Arc<FontFace>,
}

impl std::fmt::Debug for PdfFont {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PdfFont")
    }
}

impl PdfFont {
    /// Loads face 0 of the font (collection) at `path`.
    pub fn load(path: &Path) -> Result<Self, PdfError> {
        Self::load_face(FontFace { path: path.to_owned(), index: 0 })
    }

    /// Loads `face`.
    pub fn load_face(face: FontFace) -> Result<Self, PdfError> {
        let path = &face.path;
        let bytes = Arc::new(std::fs::read(path).map_err(|_| PdfError::FontMissing(path.clone()))?);
        let invalid = || PdfError::FontInvalid(path.clone(), face.index);
        FontRef::from_index(bytes.as_slice(), face.index).map_err(|_| invalid())?;
        let font = Font::new(bytes.clone().into(), face.index).ok_or_else(invalid)?;
        Ok(Self { font, bytes, face: Arc::new(face) })
    }

    /// [`locate`] then [`load_face`](Self::load_face).
    pub fn find(configured: &Path, search: Option<&FontSearch>) -> Result<Self, PdfError> {
        Self::load_face(locate(configured, search)?)
    }

    /// The file and face this font was loaded from.
    pub fn face(&self) -> &FontFace {
        &self.face
    }
}

/// Glyphs and advances of the font, without shaping: one glyph per character, which is how
/// Japanese and the Latin of dates and numbers are set. (krilla's own `draw_text` parses the
/// font and shapes on every call, which made a 200-row document take ~130 ms.)
struct Metrics<'a> {
    font: FontRef<'a>,
    advances: GlyphMetrics<'a>,
}

impl<'a> Metrics<'a> {
    fn new(font: &'a PdfFont) -> Option<Self> {
        let font = FontRef::from_index(font.bytes.as_slice(), font.face.index).ok()?;
        let advances = font.glyph_metrics(Size::new(1.0), LocationRef::default());
        Some(Self { font, advances })
    }

    /// The glyphs of `text` with their advances in em.
    fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        let charmap = self.font.charmap();
        text.char_indices()
            .map(|(i, c)| {
                let id = charmap.map(c).unwrap_or_default();
                let advance = self.advances.advance_width(id).unwrap_or(0.0);
                KrillaGlyph::new(GlyphId::new(id.to_u32()), advance, 0.0, 0.0, 0.0, i..i + c.len_utf8(), None)
            })
            .collect()
    }

    /// Advance of `text` at `size` points.
    fn width(&self, text: &str, size: f32) -> f32 {
        let charmap = self.font.charmap();
        text.chars()
            .map(|c| self.advances.advance_width(charmap.map(c).unwrap_or_default()).unwrap_or(0.0))
            .sum::<f32>()
            * size
    }
}

/// `text` cut so that its `width` with an ellipsis fits `max`, ending in `…` when cut.
pub fn truncate_with(text: &str, max: f32, width: impl Fn(&str) -> f32) -> String {
    if width(text) <= max {
        return text.to_owned();
    }
    let budget = max - width("…");
    let mut out = String::new();
    for c in text.chars() {
        out.push(c);
        if width(&out) > budget {
            out.pop();
            break;
        }
    }
    out.push('…');
    out
}

struct Writer<'a> {
    surface: Surface<'a>,
    font: Font,
    metrics: &'a Metrics<'a>,
}

impl Writer<'_> {
    fn text(&mut self, x: f32, y: f32, size: f32, text: &str) {
        if !text.is_empty() {
            let glyphs = self.metrics.glyphs(text);
            self.surface.draw_glyphs(Point::from_xy(x, y), &glyphs, self.font.clone(), text, size, false);
        }
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        self.metrics.width(text, size)
    }

    fn truncate(&self, text: &str, size: f32, max: f32) -> String {
        truncate_with(text, max, |t| self.metrics.width(t, size))
    }

    fn text_right(&mut self, right: f32, y: f32, size: f32, text: &str) {
        self.text(right - self.width(text, size), y, size, text);
    }

    fn text_center(&mut self, y: f32, size: f32, text: &str) {
        self.text((PAGE_W - self.width(text, size)) / 2.0, y, size, text);
    }

    fn rects(&mut self, rects: impl IntoIterator<Item = Rect>, lightness: u8) {
        let mut pb = PathBuilder::new();
        for r in rects {
            pb.push_rect(r);
        }
        if let Some(path) = pb.finish() {
            self.surface.set_fill(Some(Fill {
                paint: luma::Color::new(lightness).into(),
                opacity: NormalizedF32::ONE,
                rule: FillRule::NonZero,
            }));
            self.surface.draw_path(&path);
            // Text is drawn with the current fill: back to black.
            self.surface.set_fill(Some(Fill::default()));
        }
    }

    fn rule(&mut self, y: f32, thickness: f32) {
        self.rects(Rect::from_xywh(LEFT, y, RIGHT - LEFT, thickness), 0);
    }
}

fn ymd(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The statement above the signature block.
fn attestation(kind: Kind) -> &'static str {
    match kind {
        Kind::Attendance => "上記の研修会を受講したことを証明します。",
        Kind::Statement => "上記のとおり単位を取得したことを証明します。",
        Kind::JmaCertificate => "上記の者は日本医師会生涯教育制度の認定基準を満たしたことを証明します。",
        Kind::Qualification => {
            "上記の者が上記の資格を有することを、医師資格証により確認したことを証明します。"
        }
    }
}

/// Renders `content` as a PDF; `codes` names the codes that are not numbers (`応用研修`).
pub fn render(content: &Content, font: &PdfFont, codes: &[CreditCode]) -> Result<Vec<u8>, PdfError> {
    let qr = QrCode::with_error_correction_level(content.verify_url.as_bytes(), EcLevel::M)
        .map_err(|e| PdfError::Write(format!("QR code: {e}")))?;
    let chunks: Vec<&[Row]> =
        if content.rows.is_empty() { vec![&[]] } else { content.rows.chunks(ROWS_PER_PAGE).collect() };
    let totals_h = 60.0 + ROW_H * (content.totals.len() as f32 + 1.0);
    let last_rows = chunks.last().map_or(0, |c| c.len());
    let totals_fit = TABLE_TOP + ROW_H * (last_rows as f32 + 1.0) + totals_h <= ROWS_BOTTOM + 10.0;
    let pages = chunks.len() + usize::from(!totals_fit);
    let issued = japan_date(content.iat);
    let metrics = Metrics::new(font).ok_or(PdfError::Write("font tables".into()))?;

    let mut doc = Document::new();
    for page_no in 0..pages {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or(PdfError::Write("page size".into()))?;
        let mut page = doc.start_page_with(settings);
        {
            let mut w = Writer { surface: page.surface(), font: font.font.clone(), metrics: &metrics };
            header(&mut w, content, page_no + 1, pages);
            if let Some(q) = &content.qualification {
                qualification(&mut w, content, q);
            } else {
                let y_after =
                    chunks.get(page_no).map_or(TABLE_TOP, |rows| table(&mut w, content, rows, codes));
                if page_no + 1 == pages {
                    totals(&mut w, content, y_after + 14.0);
                }
            }
            footer(&mut w, content, &qr, issued);
            w.surface.finish();
        }
        page.finish();
    }
    let created = DateTime::new(u16::try_from(issued.year()).unwrap_or(2000))
        .month(u8::from(issued.month()))
        .day(issued.day());
    doc.set_metadata(
        Metadata::new().title(format!("{} {}", content.kind.title_ja(), content.jti)).creation_date(created),
    );
    doc.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
}

fn header(w: &mut Writer<'_>, c: &Content, page: usize, pages: usize) {
    w.text_right(RIGHT, 40.0, 8.0, &format!("{page} / {pages}"));
    w.text_center(72.0, 22.0, c.kind.title_ja());
    w.text_center(90.0, 10.0, c.kind.title_en());
    let name = w.truncate(&format!("{}（{}）", c.doctor.name, c.doctor.kana_name), 12.0, RIGHT - LEFT - 90.0);
    w.text(LEFT, 122.0, 9.0, "氏名 Name");
    w.text(LEFT + 90.0, 122.0, 12.0, &name);
    w.text(LEFT, 142.0, 9.0, "医籍登録番号 No.");
    w.text(LEFT + 90.0, 142.0, 12.0, &c.doctor.registration_number);
    if c.kind == Kind::Qualification {
        w.text(LEFT, 162.0, 9.0, "確認日 As of");
        w.text(LEFT + 90.0, 162.0, 12.0, &ymd(c.period.from));
        return;
    }
    w.text(LEFT, 162.0, 9.0, "期間 Period");
    let period = match c.kind {
        Kind::Statement => {
            format!("{}年度　{} 〜 {}", c.period.from.year(), ymd(c.period.from), ymd(c.period.to))
        }
        _ => format!("{} 〜 {}", ymd(c.period.from), ymd(c.period.to)),
    };
    w.text(LEFT + 90.0, 162.0, 12.0, &period);
}

const COL_DATE: f32 = LEFT;
const COL_TITLE: f32 = 118.0;
const COL_SYSTEM: f32 = 330.0;
/// Width of the system's name: room for the units right of it.
const SYSTEM_W: f32 = COL_UNITS_RIGHT - COL_SYSTEM - 26.0;
/// Smallest size a system's name is set in to fit its column (then it is cut).
const SYSTEM_MIN_SIZE: f32 = 6.5;
const COL_UNITS_RIGHT: f32 = 462.0;
const COL_CODES: f32 = 472.0;

/// The size, at most `size` and at least `min`, at which a text `em_width` ems wide fits `max`.
fn fit_size(em_width: f32, size: f32, min: f32, max: f32) -> f32 {
    if em_width * size <= max { size } else { (max / em_width).max(min) }
}

/// Draws the rows; returns the y below the table.
fn table(w: &mut Writer<'_>, c: &Content, rows: &[Row], codes: &[CreditCode]) -> f32 {
    let y = TABLE_TOP;
    w.rects(Rect::from_xywh(LEFT, y - 11.0, RIGHT - LEFT, ROW_H), 235);
    w.text(COL_DATE + 2.0, y, BODY, "日付");
    w.text(COL_TITLE, y, BODY, "研修会名");
    w.text(COL_SYSTEM, y, BODY, "制度");
    w.text_right(COL_UNITS_RIGHT, y, BODY, "単位");
    w.text(COL_CODES, y, BODY, "コード");
    let names: Vec<(&str, &str)> =
        c.totals.iter().map(|t| (t.system.as_str(), t.system_name.as_str())).collect();
    let mut y = y + ROW_H;
    for r in rows {
        let system = names.iter().find(|(id, _)| *id == r.system).map_or(r.system.as_str(), |(_, n)| n);
        w.text(COL_DATE + 2.0, y, BODY, &ymd(r.date));
        let title = w.truncate(&r.title, BODY, COL_SYSTEM - COL_TITLE - 6.0);
        w.text(COL_TITLE, y, BODY, &title);
        // Long names (日医かかりつけ医機能研修制度) are set smaller to fit, not cut.
        let size = fit_size(w.width(system, 1.0), BODY, SYSTEM_MIN_SIZE, SYSTEM_W);
        let system = w.truncate(system, size, SYSTEM_W);
        w.text(COL_SYSTEM, y, size, &system);
        w.text_right(COL_UNITS_RIGHT, y, BODY, &r.units.to_string());
        let labels: Vec<String> =
            r.codes.iter().map(|code| code_short_label(codes, &r.system, code, true)).collect();
        let labels = w.truncate(&labels.join(", "), BODY, RIGHT - COL_CODES);
        w.text(COL_CODES, y, BODY, &labels);
        y += ROW_H;
    }
    w.rule(y - 10.0, 0.6);
    y
}

fn totals(w: &mut Writer<'_>, c: &Content, mut y: f32) {
    w.text(LEFT, y, 11.0, "合計 Totals");
    y += ROW_H + 2.0;
    for t in &c.totals {
        let line = format!("{}　{} 単位 / コード {} 種", t.system_name, t.units, t.distinct_codes);
        let line = w.truncate(&line, 10.0, RIGHT - LEFT - 12.0);
        w.text(LEFT + 12.0, y, 10.0, &line);
        y += ROW_H;
    }
    if let Some(cert) = &c.certificate {
        let line = format!("単位数 + カリキュラムコード数　{}（基準 {}）", cert.achieved, cert.minimum);
        w.text(LEFT + 12.0, y, 10.0, &line);
        y += ROW_H;
    }
    w.text(LEFT, y + 12.0, 11.0, attestation(c.kind));
}

/// The body of a 資格確認書: the qualification, the card and when it was checked.
fn qualification(w: &mut Writer<'_>, c: &Content, q: &Qualification) {
    let roles: Vec<String> = q
        .hc_roles
        .iter()
        .map(|r| format!("{}（{r}）", crate::roles::hc_role_name(r, web::Lang::Ja)))
        .collect();
    let checked = time::OffsetDateTime::from_unix_timestamp(q.checked_at)
        .map(|t| t.to_offset(keys::clock::JST))
        .map(|t| format!("{} {:02}:{:02}", ymd(t.date()), t.hour(), t.minute()))
        .unwrap_or_default();
    let lines = [
        ("資格 Qualification", roles.join("、")),
        (
            "医師資格証 Card",
            format!("有効・失効していません（証明書の有効期限 {}）", ymd(q.card_valid_until)),
        ),
        ("確認日時 Checked", format!("{checked}（日本時間）")),
        ("認証局 Issuing CA", q.card_issuer.clone()),
    ];
    let mut y = TABLE_TOP + 10.0;
    for (label, value) in lines {
        w.text(LEFT, y, 9.0, label);
        let value = w.truncate(&value, 11.0, RIGHT - LEFT - 110.0);
        w.text(LEFT + 110.0, y, 11.0, &value);
        y += 24.0;
    }
    w.text(LEFT, y + 16.0, 11.0, attestation(c.kind));
    w.text(LEFT, y + 40.0, 9.0, "現在の医師資格証の状態は、QRコードの検証ページで確認できます。");
    w.text(LEFT, y + 54.0, 8.0, "The verification page of the QR code shows the card's state now.");
}

fn footer(w: &mut Writer<'_>, c: &Content, qr: &QrCode, issued: time::Date) {
    let (x0, y0, size) = (LEFT, 700.0, 96.0);
    let n = qr.width();
    let module = size / n as f32;
    let colors = qr.to_colors();
    let rects = colors.iter().enumerate().filter(|(_, c)| **c == Color::Dark).filter_map(|(i, _)| {
        let (col, row) = ((i % n) as f32, (i / n) as f32);
        // A hair of overlap so that renderers leave no seams between modules.
        Rect::from_xywh(x0 + col * module, y0 + row * module, module + 0.05, module + 0.05)
    });
    w.rects(rects, 0);
    let x = x0 + size + 14.0;
    w.text(x, y0 + 14.0, 9.0, &format!("発行番号 Issue ID: {}", c.jti));
    w.text(x, y0 + 30.0, 9.0, &format!("発行日 Issued: {}", ymd(issued)));
    let url = w.truncate(&format!("検証 Verify: {}", c.verify_url), 8.0, RIGHT - x);
    w.text(x, y0 + 46.0, 8.0, &url);
    w.text(x, y0 + 62.0, 8.0, "QRコードから真正性・失効の有無を確認できます。");
    w.text(x, y0 + 76.0, 8.0, "Scan the QR code to check that this document is genuine and in force.");
    let issuer = w.truncate(&format!("発行 Issuer: {}", c.iss), 8.0, RIGHT - x);
    w.text(x, y0 + 92.0, 8.0, &issuer);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_to_the_width() {
        let width = |t: &str| t.chars().count() as f32 * 10.0;
        assert_eq!(truncate_with("短い題", 100.0, width), "短い題");
        let cut = truncate_with(&"長".repeat(40), 100.0, width);
        assert_eq!(cut, format!("{}…", "長".repeat(9)));
        assert!(width(&cut) <= 100.0);
        const { assert!(ROWS_PER_PAGE >= 25) };
        assert_eq!(fit_size(5.0, 9.0, 6.5, 90.0), 9.0, "fits as it is");
        assert_eq!(fit_size(14.0, 9.0, 6.5, 105.0), 7.5, "smaller to fit");
        assert_eq!(fit_size(40.0, 9.0, 6.5, 105.0), 6.5, "no smaller than the minimum (then cut)");
    }

    #[test]
    fn discovery_finds_a_japanese_face_in_the_given_dirs_only() {
        let dir = tempfile::tempdir().unwrap();
        let fonts = dir.path().join("fonts");
        std::fs::create_dir_all(fonts.join("truetype")).unwrap();
        std::fs::write(fonts.join("truetype/broken.ttf"), b"not a font").unwrap();
        let search = FontSearch::Dirs(vec![fonts.clone(), dir.path().join("absent")]);
        assert_eq!(discover(&search), None, "no usable font");
        let configured = dir.path().join("configured.ttc");
        let err = locate(&configured, Some(&search)).unwrap_err();
        assert!(err.to_string().contains("install Debian package fonts-noto-cjk"), "{err}");
        assert!(err.to_string().contains(&configured.display().to_string()), "{err}");

        let copy = fonts.join("opentype/noto/NotoSansCJK-Regular.ttc");
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(DEFAULT_FONT_PATH, &copy).unwrap();
        let found = FontFace { path: copy.clone(), index: 0 };
        assert_eq!(discover(&search), Some(found.clone()), "Noto Sans CJK JP is face 0");
        assert_eq!(locate(&configured, Some(&search)).unwrap(), found);
        assert!(locate(&configured, None).is_err(), "no search: only the configured file");
        let font = PdfFont::find(&configured, Some(&search)).unwrap();
        assert_eq!(font.face(), &found);

        // The configured file comes first.
        std::fs::write(&configured, b"").unwrap();
        assert_eq!(locate(&configured, Some(&search)).unwrap().path, configured);
        assert!(matches!(PdfFont::find(&configured, Some(&search)), Err(PdfError::FontInvalid(..))));
    }

    #[test]
    fn japanese_coverage_by_the_cmap() {
        let noto = std::fs::read(DEFAULT_FONT_PATH).unwrap();
        assert!(covers_japanese(&noto, 0));
        assert!(!covers_japanese(b"not a font", 0));
    }

    #[test]
    fn a_missing_font_is_a_clear_error() {
        let err = PdfFont::load(Path::new("/nonexistent/font.ttc")).unwrap_err();
        assert!(err.to_string().contains("fonts-noto-cjk"), "{err}");
    }
}
