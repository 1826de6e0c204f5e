//! `scripts/package-extension`: runs the script into a temporary folder and checks that the
//! Chromium `.zip` and the Firefox `.xpi` are named with the manifests' version, hold the right
//! `manifest.json` at their root (the Chromium one with the fixed id's `key`, the Firefox one
//! with the gecko id and `background.scripts`), never the other browser's manifest, and every
//! file the manifest names (background script, content scripts) and those pages and scripts name
//! in turn (`runtime.getURL("prompt.html")`, its stylesheet and script), byte for byte equal to
//! `bridge/extension/`. Reads the archives with `unzip` (Debian `unzip`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn extension_dir() -> PathBuf {
    repo().join("bridge/extension")
}

fn source_manifest(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(extension_dir().join(name)).unwrap()).unwrap()
}

/// The names of an archive's entries.
fn entries(archive: &Path) -> BTreeSet<String> {
    let out = Command::new("unzip").arg("-Z1").arg(archive).output().expect("unzip runs");
    assert!(out.status.success(), "unzip -Z1 {}: {out:?}", archive.display());
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
}

/// One entry's bytes.
fn entry(archive: &Path, name: &str) -> Vec<u8> {
    let out = Command::new("unzip").arg("-p").arg(archive).arg(name).output().expect("unzip runs");
    assert!(out.status.success(), "unzip -p {} {name}: {out:?}", archive.display());
    out.stdout
}

/// The files a manifest names directly.
fn manifest_references(manifest: &Value) -> BTreeSet<String> {
    let mut refs = BTreeSet::new();
    let background = &manifest["background"];
    if let Some(sw) = background["service_worker"].as_str() {
        refs.insert(sw.to_owned());
    }
    for script in background["scripts"].as_array().into_iter().flatten() {
        refs.insert(script.as_str().unwrap().to_owned());
    }
    for cs in manifest["content_scripts"].as_array().into_iter().flatten() {
        for key in ["js", "css"] {
            for file in cs[key].as_array().into_iter().flatten() {
                refs.insert(file.as_str().unwrap().to_owned());
            }
        }
    }
    refs
}

/// The quoted values after each `marker` in `text` (e.g. `src="` → the file names).
fn quoted_after(text: &str, marker: &str, close: char) -> Vec<String> {
    text.split(marker).skip(1).filter_map(|rest| rest.split(close).next()).map(str::to_owned).collect()
}

/// Files an extension file names in turn: an HTML page's `src` and `href`, a script's
/// `runtime.getURL("…")`. Only names relative to the extension (no scheme, no `#`).
fn file_references(name: &str, text: &str) -> Vec<String> {
    let found = if name.ends_with(".html") {
        let mut v = quoted_after(text, "src=\"", '"');
        v.extend(quoted_after(text, "href=\"", '"'));
        v
    } else if name.ends_with(".js") {
        quoted_after(text, "getURL(\"", '"')
    } else {
        Vec::new()
    };
    found.into_iter().filter(|f| !f.contains(':') && !f.starts_with('#')).collect()
}

/// Checks one archive against its source manifest: every referenced file (transitively) is in
/// it and equal to the source; the manifest is the source manifest.
fn check_archive(archive: &Path, source_manifest_name: &str) {
    let names = entries(archive);
    assert!(names.contains("manifest.json"), "{}: no manifest.json in {names:?}", archive.display());
    assert!(
        !names.contains("manifest.firefox.json"),
        "{}: the Firefox source manifest is packaged too: {names:?}",
        archive.display()
    );
    let manifest: Value = serde_json::from_slice(&entry(archive, "manifest.json")).unwrap();
    assert_eq!(manifest, source_manifest(source_manifest_name), "{}", archive.display());

    let mut todo: Vec<String> = manifest_references(&manifest).into_iter().collect();
    assert!(!todo.is_empty(), "the manifest names no files");
    let mut seen = BTreeSet::new();
    while let Some(file) = todo.pop() {
        if !seen.insert(file.clone()) {
            continue;
        }
        assert!(names.contains(&file), "{}: {file} is referenced but missing ({names:?})", archive.display());
        let bytes = entry(archive, &file);
        assert_eq!(bytes, std::fs::read(extension_dir().join(&file)).unwrap(), "{file} differs");
        todo.extend(file_references(&file, &String::from_utf8_lossy(&bytes)));
    }
    for needed in ["sw.js", "content.js", "prompt.html", "prompt.js", "prompt.css"] {
        assert!(seen.contains(needed), "{needed} was not reached from the manifest: {seen:?}");
    }
    // Nothing but the extension's own files (and the renamed manifest) is packaged.
    let mut source: BTreeSet<String> = std::fs::read_dir(extension_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with("manifest"))
        .collect();
    source.insert("manifest.json".into());
    assert_eq!(names, source, "{}", archive.display());
}

#[test]
fn package_extension_makes_a_chromium_zip_and_a_firefox_xpi() {
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(repo().join("scripts/package-extension"))
        .env("SHIKAKU_EXTENSION_OUT", out.path())
        .output()
        .expect("scripts/package-extension runs");
    assert!(run.status.success(), "scripts/package-extension failed: {run:?}");

    let version = source_manifest("manifest.json")["version"].as_str().unwrap().to_owned();
    assert_eq!(source_manifest("manifest.firefox.json")["version"], version.as_str());
    let chromium = out.path().join(format!("shikaku-bridge-chromium-{version}.zip"));
    let firefox = out.path().join(format!("shikaku-bridge-firefox-{version}.xpi"));
    let printed: Vec<PathBuf> = String::from_utf8(run.stdout).unwrap().lines().map(PathBuf::from).collect();
    let canonical = |p: &Path| p.canonicalize().unwrap();
    assert_eq!(
        printed.iter().map(|p| canonical(p)).collect::<Vec<_>>(),
        vec![canonical(&chromium), canonical(&firefox)],
        "the script prints the two archives' paths"
    );

    check_archive(&chromium, "manifest.json");
    check_archive(&firefox, "manifest.firefox.json");

    let chromium_manifest: Value = serde_json::from_slice(&entry(&chromium, "manifest.json")).unwrap();
    assert!(chromium_manifest["key"].is_string(), "the Chromium build keeps the fixed id's key");
    assert_eq!(chromium_manifest["background"]["service_worker"], "sw.js");
    let firefox_manifest: Value = serde_json::from_slice(&entry(&firefox, "manifest.json")).unwrap();
    assert_eq!(firefox_manifest["browser_specific_settings"]["gecko"]["id"], "bridge@shikaku.jp");
    assert_eq!(firefox_manifest["background"]["scripts"][0], "sw.js");
}
