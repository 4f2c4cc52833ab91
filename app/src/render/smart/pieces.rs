//! Pieces made ahead: what the smart render makes (a crossfade, a span with a title over
//! it, the end card, the sound) is named by what goes into it, so a piece made once (in
//! the background as the scenes are approved, or by the render before) is fetched rather
//! than made again. A scene changed changes the names of its own pieces only.
//!
//! A piece's name is the hash of FFmpeg's arguments for it, with every input file under
//! the render's folders replaced by the hash of its content: the same inputs in another
//! folder give the same name, and a changed word of a title (its text file) or a new
//! clip gives another. An input outside those folders is named by its path (the bundled
//! fonts); one that cannot be read leaves its path in, so the name is new and the piece
//! made (never a wrong one reused).

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

/// Raised when what a name stands for changes without its inputs changing (the codec
/// settings are in the arguments already).
const VERSION: &str = "pieces-1";

/// Where made pieces are kept between renders.
#[async_trait]
pub trait Pieces: Send + Sync {
    /// Writes the piece named `key` to `file` and answers true, if one was kept.
    async fn fetch(&self, key: &str, file: &Path) -> anyhow::Result<bool>;
    /// Keeps the piece made at `file` as `key`.
    async fn keep(&self, key: &str, file: &Path, frames: u32) -> anyhow::Result<()>;
}

/// Keeps nothing: every piece is made.
pub struct NoPieces;

#[async_trait]
impl Pieces for NoPieces {
    async fn fetch(&self, _key: &str, _file: &Path) -> anyhow::Result<bool> {
        Ok(false)
    }

    async fn keep(&self, _key: &str, _file: &Path, _frames: u32) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Keeps pieces as files in a folder (the bench, the tests).
pub struct PieceDir(pub PathBuf);

impl PieceDir {
    fn file(&self, key: &str) -> PathBuf {
        self.0.join(key)
    }
}

#[async_trait]
impl Pieces for PieceDir {
    async fn fetch(&self, key: &str, file: &Path) -> anyhow::Result<bool> {
        match tokio::fs::copy(self.file(key), file).await {
            Ok(_) => Ok(true),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    async fn keep(&self, key: &str, file: &Path, _frames: u32) -> anyhow::Result<()> {
        tokio::fs::create_dir_all(&self.0).await?;
        // Copied under a temporary name, then renamed: a reader never sees half a piece.
        let part = self.0.join(format!("{key}.part"));
        tokio::fs::copy(file, &part).await?;
        tokio::fs::rename(&part, self.file(key)).await?;
        Ok(())
    }
}

/// Names pieces, hashing each input file once.
pub struct Names {
    roots: Vec<PathBuf>,
    hashes: HashMap<PathBuf, String>,
}

impl Names {
    /// Input files under `roots` are named by their content.
    pub fn new(roots: &[&Path]) -> Self {
        Self {
            roots: roots.iter().map(|root| root.to_path_buf()).collect(),
            hashes: HashMap::new(),
        }
    }

    /// The name of what `args` make into `output` (`what` tells kinds of piece apart).
    pub async fn of(&mut self, what: &str, args: &[String], output: &Path) -> String {
        let mut text = args.join("\u{1f}");
        text = text.replace(output.to_string_lossy().as_ref(), "<output>");
        let mut files = Vec::new();
        for root in &self.roots {
            files_under(root, &mut files);
        }
        // Longest first, so that no path is replaced inside a longer one.
        files.sort_by_key(|file| std::cmp::Reverse(file.as_os_str().len()));
        for file in files {
            let shown = file.to_string_lossy().into_owned();
            if file == output || !text.contains(&shown) {
                continue;
            }
            let hash = match self.hashes.get(&file) {
                Some(hash) => hash.clone(),
                None => match hash_file(&file).await {
                    Ok(hash) => {
                        self.hashes.insert(file.clone(), hash.clone());
                        hash
                    }
                    Err(_) => continue,
                },
            };
            text = text.replace(&shown, &format!("<{hash}>"));
        }
        // A folder named whole (the captions' fonts) stands for its files' names and
        // contents; deepest first.
        let mut dirs = Vec::new();
        for root in &self.roots {
            dirs_under(root, &mut dirs);
        }
        dirs.sort_by_key(|dir| std::cmp::Reverse(dir.as_os_str().len()));
        for dir in dirs {
            let shown = dir.to_string_lossy().into_owned();
            if !text.contains(&shown) {
                continue;
            }
            // A path through it to a file not read stays as it is (see the top).
            let mut files = Vec::new();
            files_under(&dir, &mut files);
            files.sort();
            let mut listing = String::new();
            for file in files {
                let Ok(hash) = hash_file(&file).await else {
                    continue;
                };
                let name = file.strip_prefix(&dir).unwrap_or(&file);
                listing.push_str(&format!("{}={hash};", name.display()));
            }
            let hash = hex(&Sha256::digest(listing));
            text = replace_whole(&text, &shown, &format!("<folder {hash}>"));
        }
        hex(&Sha256::digest(format!(
            "{VERSION}\u{1f}{what}\u{1f}{text}"
        )))
    }
}

/// Every file under `dir`, its subfolders included.
fn files_under(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => files_under(&path, files),
            Ok(kind) if kind.is_file() => files.push(path),
            _ => {}
        }
    }
}

/// `text` with `path` replaced by `with` where it is named whole, not as the start of a
/// longer path.
fn replace_whole(text: &str, path: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(path) {
        let after = &rest[at + path.len()..];
        out.push_str(&rest[..at]);
        if after.starts_with('/') {
            out.push_str(path);
        } else {
            out.push_str(with);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Every folder under `dir`, `dir` included.
fn dirs_under(dir: &Path, dirs: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    dirs.push(dir.to_path_buf());
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            dirs_under(&entry.path(), dirs);
        }
    }
}

async fn hash_file(file: &Path) -> anyhow::Result<String> {
    let file = file.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut hasher = Sha256::new();
        std::io::copy(&mut std::fs::File::open(file)?, &mut hasher)?;
        Ok(hex(&hasher.finalize()))
    })
    .await?
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &Path, text: &str) -> Vec<String> {
        vec![
            "-i".into(),
            dir.join("clip.mp4").to_string_lossy().into_owned(),
            "-vf".into(),
            format!(
                "drawtext=textfile={}:x=0,scale=2:2",
                dir.join("title.txt").display()
            ),
            "-an".into(),
            dir.join(text).to_string_lossy().into_owned(),
        ]
    }

    fn folder(title: &str, clip: &[u8]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("title.txt"), title).unwrap();
        std::fs::write(dir.path().join("clip.mp4"), clip).unwrap();
        dir
    }

    async fn name(dir: &Path) -> String {
        let output = dir.join("piece.mp4");
        Names::new(&[dir])
            .of("piece", &args(dir, "piece.mp4"), &output)
            .await
    }

    #[tokio::test]
    async fn the_same_inputs_in_another_folder_have_the_same_name() {
        let (a, b) = (folder("Glow", b"frames"), folder("Glow", b"frames"));
        assert_eq!(name(a.path()).await, name(b.path()).await);
    }

    #[tokio::test]
    async fn a_changed_title_or_clip_has_another_name() {
        let base = name(folder("Glow", b"frames").path()).await;
        assert_ne!(base, name(folder("Glow!", b"frames").path()).await);
        assert_ne!(base, name(folder("Glow", b"other frames").path()).await);
    }

    #[tokio::test]
    async fn an_unreadable_input_keeps_its_path_so_nothing_is_reused() {
        let (a, b) = (folder("Glow", b"frames"), folder("Glow", b"frames"));
        std::fs::remove_file(a.path().join("clip.mp4")).unwrap();
        std::fs::remove_file(b.path().join("clip.mp4")).unwrap();
        assert_ne!(name(a.path()).await, name(b.path()).await);
    }

    #[tokio::test]
    async fn a_folder_named_whole_is_named_by_its_files() {
        let named = |font: &'static [u8]| async move {
            let dir = tempfile::tempdir().unwrap();
            let fonts = dir.path().join("fonts");
            std::fs::create_dir_all(&fonts).unwrap();
            std::fs::write(fonts.join("captions.ttf"), font).unwrap();
            let args = vec![format!("subtitles=fontsdir={}", fonts.display())];
            let output = dir.path().join("piece.mp4");
            Names::new(&[dir.path()]).of("piece", &args, &output).await
        };
        assert_eq!(named(b"font").await, named(b"font").await);
        assert_ne!(named(b"font").await, named(b"other font").await);
    }

    #[tokio::test]
    async fn a_piece_kept_in_a_folder_is_fetched_whole() {
        let dir = tempfile::tempdir().unwrap();
        let pieces = PieceDir(dir.path().join("kept"));
        let made = dir.path().join("made.mp4");
        std::fs::write(&made, b"piece").unwrap();
        let fetched = dir.path().join("fetched.mp4");
        assert!(!pieces.fetch("abc", &fetched).await.unwrap());
        pieces.keep("abc", &made, 15).await.unwrap();
        assert!(pieces.fetch("abc", &fetched).await.unwrap());
        assert_eq!(std::fs::read(&fetched).unwrap(), b"piece");
    }
}
