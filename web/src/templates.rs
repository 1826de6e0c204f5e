//! The tera engine: every template under `templates/` is embedded in the binary and parsed at
//! start, so a broken template stops the start (and CI), never a user's request.

use std::collections::HashMap;

use include_dir::{Dir, include_dir};
pub use tera::Context;
use tera::Tera;

use crate::Lang;

static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../templates");

/// Errors loading the embedded templates or locale files.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A template failed to parse.
    #[error("template error: {0}")]
    Tera(#[from] tera::Error),
    /// A locale file failed to parse.
    #[error("locale file {file}: {message}")]
    Locale {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// Parsed templates plus the text of every language.
#[derive(Debug)]
pub struct Templates {
    tera: Tera,
    texts: HashMap<Lang, serde_json::Value>,
    /// Per language, a context holding `lang` and `t`, converted once: converting the locale
    /// table for every render was most of the cost of a small page.
    base: HashMap<Lang, Context>,
}

impl Templates {
    /// Parses every embedded `*.html` template and every `locales/*.toml` file.
    pub fn load() -> Result<Self, TemplateError> {
        let mut files = Vec::new();
        collect(&TEMPLATES, &mut files);
        let mut tera = Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.add_raw_templates(
            files
                .iter()
                .filter(|(path, _)| path.ends_with(".html"))
                .map(|(path, body)| (path.as_str(), body.as_str())),
        )?;
        let mut texts = HashMap::new();
        for lang in Lang::ALL {
            let file = format!("locales/{}.toml", lang.code());
            let body = TEMPLATES
                .get_file(&file)
                .and_then(|f| f.contents_utf8())
                .ok_or_else(|| TemplateError::Locale { file: file.clone(), message: "missing".into() })?;
            let table: toml::Table = toml::from_str(body)
                .map_err(|e| TemplateError::Locale { file: file.clone(), message: e.to_string() })?;
            let value = serde_json::to_value(table)
                .map_err(|e| TemplateError::Locale { file: file.clone(), message: e.to_string() })?;
            texts.insert(lang, value);
        }
        let base = texts
            .iter()
            .map(|(lang, value)| {
                let mut ctx = Context::new();
                ctx.insert("lang", lang.code());
                ctx.insert("t", value);
                (*lang, ctx)
            })
            .collect();
        Ok(Self { tera, texts, base })
    }

    /// Renders `name` in `lang`; the context also gets `lang` and `t` (the language's texts).
    pub fn render(&self, name: &str, lang: Lang, context: &Context) -> Result<String, tera::Error> {
        let mut ctx = context.clone();
        if let Some(base) = self.base.get(&lang) {
            ctx.extend(base.clone());
        }
        self.tera.render(name, &ctx)
    }

    /// One text of `lang` by key (`""` when missing; a test keeps the locales complete).
    pub fn text(&self, lang: Lang, key: &str) -> &str {
        self.texts[&lang].get(key).and_then(|v| v.as_str()).unwrap_or("")
    }

    /// Names of every template.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tera.get_template_names()
    }

    /// The locale table of `lang` (key → text).
    pub fn texts(&self, lang: Lang) -> &serde_json::Value {
        &self.texts[&lang]
    }

    /// The raw source of every embedded file, by path (for tests that scan templates).
    pub fn sources() -> Vec<(String, String)> {
        let mut files = Vec::new();
        collect(&TEMPLATES, &mut files);
        files
    }
}

fn collect(dir: &Dir<'_>, out: &mut Vec<(String, String)>) {
    for file in dir.files() {
        if let Some(body) = file.contents_utf8() {
            out.push((file.path().to_string_lossy().replace('\\', "/"), body.to_owned()));
        }
    }
    for sub in dir.dirs() {
        collect(sub, out);
    }
}
