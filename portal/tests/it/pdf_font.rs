//! The PDF font missing: the PDF link answers a localized 503 page, `/readyz` stays 200 and
//! lists `pdf_font` as degraded; once the font file is put in place the next request gets the
//! PDF (no restart). Hermetic: the configured file is in a temp dir and the font search looks
//! only in an empty temp dir, whatever fonts the machine has.

use axum::body::Body;
use axum::http::{Request, header};
use portal::documents::pdf::{DEFAULT_FONT_PATH, FontSearch};
use portal::documents::routes::DocumentService;
use storage::testing::TestEnv;

use crate::{TestApp, text};

storage::each_backend!(pdf_without_the_font_is_a_localized_503_until_the_font_is_there);

const TITLE_JA: &str = "PDFを作成できません";
const MESSAGE_JA: &str = "PDFの作成に必要な日本語フォントがサーバーにないため、現在PDFを表示できません。文書そのものは発行済みで、フォントが用意されれば表示できます。運営者へ: Debianパッケージ fonts-noto-cjk をインストールするか、設定キー portal_font_path に日本語フォント（TrueTypeまたはOpenType）のパスを指定してください。再起動は不要です。";
const TITLE_EN: &str = "PDFs are unavailable";
const MESSAGE_EN: &str = "The server lacks the Japanese font needed to draw PDFs, so the PDF cannot be shown right now. The document itself is issued and can be shown once the font is in place. For the operator: install the Debian package fonts-noto-cjk, or set the config key portal_font_path to a Japanese TrueType or OpenType font. No restart is needed.";

async fn readyz(app: &TestApp) -> (u16, serde_json::Value) {
    let res = app.send(Request::get("/readyz").body(Body::empty()).unwrap()).await;
    let status = res.status().as_u16();
    (status, serde_json::from_str(&text(res).await).unwrap())
}

async fn pdf_without_the_font_is_a_localized_503_until_the_font_is_there(env: TestEnv) {
    let dir = tempfile::tempdir().unwrap();
    let configured = dir.path().join("fonts/NotoSansCJK-Regular.ttc");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let app = TestApp::with_font(env, configured.clone(), FontSearch::Dirs(vec![empty])).await;

    // Issuing needs no font: the document is signed and stored.
    let (doctor, id) = app.issued_statement("doc-font").await;
    let uri = format!("/documents/{id}.pdf");

    let (status, _, html) = app.get(&uri, &doctor).await;
    assert_eq!(status, 503, "{html}");
    assert!(html.contains(&format!("<h1 id=\"error-title\">{TITLE_JA}</h1>")), "{html}");
    assert!(html.contains(&format!("<p>{MESSAGE_JA}</p>")), "{html}");
    assert!(html.contains("<html lang=\"ja\""), "{html}");

    let (status, _, html) = app.get(&format!("{uri}?lang=en"), &doctor).await;
    assert_eq!(status, 503, "{html}");
    assert!(html.contains(&format!("<h1 id=\"error-title\">{TITLE_EN}</h1>")), "{html}");
    assert!(html.contains(&format!("<p>{MESSAGE_EN}</p>")), "{html}");

    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "the portal serves everything but PDFs: {body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["pdf_font"]["required"], false, "{body}");
    // The part is named; what to install is on the PDF page and in the log, not here.
    assert_eq!(body["checks"]["pdf_font"]["status"], "unavailable", "{body}");

    // The operator puts the font in place: the next request draws the PDF.
    std::fs::create_dir_all(configured.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(DEFAULT_FONT_PATH, &configured).unwrap();
    let (status, headers, body) = {
        let req = Request::get(&uri).header(header::COOKIE, &doctor).header(header::ACCEPT, "text/html");
        let res = app.send(req.body(Body::empty()).unwrap()).await;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        use http_body_util::BodyExt;
        (status, headers, res.into_body().collect().await.unwrap().to_bytes().to_vec())
    };
    assert_eq!(status, 200);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert!(body.starts_with(b"%PDF-"));
    let (status, body) = readyz(&app).await;
    assert_eq!((status, &body["status"]), (200, &serde_json::json!("ready")), "{body}");
    assert_eq!(body["checks"]["pdf_font"]["status"], "ok", "{body}");

    // Without the configured file, a Japanese face of the font directories is used.
    let fonts = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(fonts.path().join("opentype")).unwrap();
    std::fs::copy(DEFAULT_FONT_PATH, fonts.path().join("opentype/cjk.ttc")).unwrap();
    let found = DocumentService::with_font_search(
        app.signer.clone(),
        dir.path().join("absent.ttc"),
        FontSearch::Dirs(vec![fonts.path().to_owned()]),
    );
    let font = found.font().unwrap();
    assert_eq!(font.face().index, 0, "Noto Sans CJK JP is face 0 of the collection");
    assert!(font.face().path.starts_with(fonts.path()), "{:?}", font.face());
}
