//! The built site the server hands to browsers: `<site root>/pkg` holds the bundle (the
//! WASM in parts, their JavaScript and the stylesheet), `<site root>` the public files.
//!
//! A debug build puts the bundle in `pkg/` itself (`reelsmith.{js,wasm,css}`, the parts
//! and their loader beside them), revalidated on every load. A release build (`bash
//! .ci/build-site.sh --release`) puts it in a folder named after a hash of its contents,
//! `pkg/<hash>/`, lists the hash in `<site root>/hash.txt` and compresses it (brotli and
//! gzip) at build time: browsers then keep it for a year without asking again, since
//! another bundle has another name. The parts load each other by names relative to
//! their folder, so they need no renaming.

pub mod serve;

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

/// The file that names a release bundle's hash, in the site root. Its lines are
/// cargo-leptos's (`js: <hash>`, `wasm: <hash>`, `css: <hash>`); this build gives them
/// one hash, of the whole bundle, which names its folder.
pub const HASH_FILE: &str = "hash.txt";

/// Where the site's bundle is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// Its folder under the site root, which is also its path on the site: `pkg` or
    /// `pkg/<hash>`.
    pub dir: String,
    /// Named after its contents: may be kept by browsers for good.
    pub hashed: bool,
}

impl Bundle {
    /// The bundle of the site in `site_root`: hashed when `hash.txt` is there.
    pub fn of_site(site_root: &Path) -> anyhow::Result<Self> {
        let listed = site_root.join(HASH_FILE);
        let text = match std::fs::read_to_string(&listed) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    dir: "pkg".to_string(),
                    hashed: false,
                })
            }
            Err(error) => {
                return Err(error).with_context(|| format!("reading {}", listed.display()))
            }
        };
        let hash = Self::one_hash(&text).with_context(|| {
            format!(
                "{} names no single bundle hash; rebuild the site with `bash .ci/build-site.sh --release`",
                listed.display()
            )
        })?;
        Ok(Self {
            dir: format!("pkg/{hash}"),
            hashed: true,
        })
    }

    fn one_hash(text: &str) -> anyhow::Result<String> {
        let mut hashes = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let Some((file, hash)) = line.split_once(':') else {
                bail!("a line without `file: hash`: {line:?}");
            };
            let hash = hash.trim();
            if !(8..=64).contains(&hash.len()) || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("not a hash for {}: {hash:?}", file.trim());
            }
            hashes.push((file.trim().to_string(), hash.to_string()));
        }
        for wanted in ["js", "wasm", "css"] {
            if !hashes.iter().any(|(file, _)| file == wanted) {
                bail!("no hash for the {wanted} file");
            }
        }
        let first = &hashes[0].1;
        if hashes.iter().any(|(_, hash)| hash != first) {
            bail!("the files carry different hashes");
        }
        Ok(first.clone())
    }

    /// `<site root>/<dir>/reelsmith.<extension>`: the main part of the WASM, its script,
    /// the stylesheet.
    pub fn path(&self, site_root: &Path, extension: &str) -> PathBuf {
        site_root
            .join(&self.dir)
            .join(format!("{}.{extension}", app::SITE_NAME))
    }
}

/// How the site on disk stands against this server's build (see `app/build.rs`).
#[derive(Debug, PartialEq, Eq)]
pub enum SiteBuild {
    Matches,
    /// The site's WASM carries another build's id, or none.
    Other,
    /// There is no WASM where the site should be.
    Missing,
}

/// Looks for this build's marker in the site's WASM: pages served with a WASM from
/// another build render but never start in the browser.
pub fn site_build(site_root: &Path, bundle: &Bundle) -> SiteBuild {
    match std::fs::read(bundle.path(site_root, "wasm")) {
        Ok(bytes) => {
            if memchr::memmem::find(&bytes, app::BUILD_MARKER.as_bytes()).is_some() {
                SiteBuild::Matches
            } else {
                SiteBuild::Other
            }
        }
        Err(_) => SiteBuild::Missing,
    }
}

/// Refuses to serve a site that is not this server's build (unless `allow_stale`, which
/// only warns), naming the command that rebuilds it.
pub fn check_site(site_root: &Path, allow_stale: bool) -> anyhow::Result<()> {
    let fix = "rebuild the site and the server together with `bash .ci/build-site.sh` (or `cargo leptos build`)";
    let problem = match Bundle::of_site(site_root) {
        Err(error) => format!("{error:#}"),
        Ok(bundle) => match site_build(site_root, &bundle) {
            SiteBuild::Matches => return Ok(()),
            SiteBuild::Other => format!(
                "the site in {} is from another build than this server (build {}): its pages would not start in the browser",
                site_root.display(),
                app::build_id()
            ),
            SiteBuild::Missing => format!("there is no built site in {}", site_root.display()),
        },
    };
    if allow_stale {
        tracing::warn!("{problem}; serving it anyway (REELSMITH_ALLOW_STALE_SITE): {fix}");
        return Ok(());
    }
    anyhow::bail!(
        "{problem}. To fix it, {fix}; to serve it anyway, set REELSMITH_ALLOW_STALE_SITE=true."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_bundle_is_in_a_folder_named_by_its_hash_and_a_debug_one_in_pkg() {
        let site = tempfile::tempdir().unwrap();
        let plain = Bundle::of_site(site.path()).unwrap();
        assert_eq!((plain.dir.as_str(), plain.hashed), ("pkg", false));

        std::fs::write(
            site.path().join(HASH_FILE),
            "js: 0123abcd0123abcd\nwasm: 0123abcd0123abcd\ncss: 0123abcd0123abcd\n",
        )
        .unwrap();
        let hashed = Bundle::of_site(site.path()).unwrap();
        assert_eq!(hashed.dir, "pkg/0123abcd0123abcd");
        assert!(hashed.hashed);
        assert_eq!(
            hashed.path(site.path(), "css"),
            site.path().join("pkg/0123abcd0123abcd/reelsmith.css")
        );

        for broken in [
            "js: 0123abcd0123abcd\nwasm: 0123abcd0123abcd\n",
            "js: 0123abcd0123abcd\nwasm: 0123abcd0123abce\ncss: 0123abcd0123abcd\n",
            "js: ../../etc\nwasm: ../../etc\ncss: ../../etc\n",
        ] {
            std::fs::write(site.path().join(HASH_FILE), broken).unwrap();
            let error = Bundle::of_site(site.path()).unwrap_err();
            assert!(
                format!("{error:#}").contains("build-site.sh --release"),
                "{error:#}"
            );
        }
    }
}
