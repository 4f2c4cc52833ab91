//! The offline provider: media made on this machine with FFmpeg, deterministic for a
//! seed. Images are gradients from the mood's palette with the scene's words laid out on
//! them; clips are a slow pan and zoom over the seed image; music is a synthesised pad
//! and pulse at the mood's tempo.

use super::{
    ffmpeg::{self, filter_path},
    ssr::{
        GeneratedMedia, GenerationError, ImageGenerator, ImageRequest, MusicGenerator,
        MusicRequest, Rgb, Run, VideoGenerator, VideoRequest,
    },
};
use crate::projects::VideoFormat;
use anyhow::Context;
use std::path::{Path, PathBuf};
use tokio::sync::Semaphore;

pub const PROVIDER: &str = "offline";
pub const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");
const FPS: u32 = 30;

pub struct OfflineMedia {
    work_dir: PathBuf,
    font: PathBuf,
    /// FFmpeg uses every core it is given; two encodes at once is plenty.
    permits: Semaphore,
}

/// A small, stable pseudo-random sequence (SplitMix64), so a seed always gives the same media.
pub(crate) struct Sequence(pub(crate) u64);

impl Sequence {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

impl OfflineMedia {
    /// `work_dir` holds temporary files; it must be a path FFmpeg filters accept
    /// (letters, digits, `/_.-+`).
    pub fn new(work_dir: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let work_dir = work_dir.into();
        std::fs::create_dir_all(&work_dir)
            .with_context(|| format!("creating {}", work_dir.display()))?;
        filter_path(&work_dir)?;
        let font = work_dir.join("DejaVuSans-Bold.ttf");
        if std::fs::metadata(&font).map(|m| m.len()).ok() != Some(FONT.len() as u64) {
            std::fs::write(&font, FONT).context("writing the bundled font")?;
        }
        Ok(Self {
            work_dir,
            font,
            permits: Semaphore::new(2),
        })
    }

    fn scratch(&self, what: &str) -> anyhow::Result<tempfile::TempDir> {
        Ok(tempfile::Builder::new()
            .prefix(&format!("{what}-"))
            .tempdir_in(&self.work_dir)?)
    }
}

/// Splits words into lines of at most `width` characters, at most `max_lines` of them
/// (the last one ending in an ellipsis when words are left over).
pub fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_whitespace() {
        let word: String = word.chars().take(width).collect();
        let fits = current.chars().count() + 1 + word.chars().count() <= width;
        if current.is_empty() {
            current = word;
        } else if fits {
            current.push(' ');
            current.push_str(&word);
        } else {
            lines.push(std::mem::replace(&mut current, word));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = lines.last_mut().expect("max_lines > 0");
        let kept: String = last.chars().take(width.saturating_sub(1)).collect();
        *last = format!("{}…", kept.trim_end());
    }
    lines
}

/// Where a picture's parts go, in pixels: its words (a block centred on a point, at
/// most so wide) and, in a product scene, the box the product is fitted into (standing
/// on the box's bottom edge, centred across it).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Layout {
    text_x: f64,
    text_y: f64,
    text_width: f64,
    max_lines: usize,
    product: Option<ProductBox>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct ProductBox {
    centre_x: f64,
    bottom: f64,
    width: f64,
    height: f64,
}

impl Layout {
    /// Without the product the words fill the middle. With it, the product takes the
    /// lower half of a tall or square picture (words above it), or one side of a wide one
    /// (words on the other side, which the seed picks).
    fn of(width: u32, height: u32, product: bool, sequence: &mut Sequence) -> Self {
        let (w, h) = (width as f64, height as f64);
        if !product {
            return Self {
                text_x: w / 2.0,
                text_y: h / 2.0,
                text_width: w * 0.82,
                max_lines: 5,
                product: None,
            };
        }
        if h >= w {
            return Self {
                text_x: w / 2.0,
                text_y: h * 0.2,
                text_width: w * 0.84,
                max_lines: 3,
                product: Some(ProductBox {
                    centre_x: w / 2.0,
                    bottom: h * 0.94,
                    width: w * 0.78,
                    height: h * 0.52,
                }),
            };
        }
        let product_right = sequence.below(2) == 0;
        let (product_x, text_x) = if product_right {
            (w * 0.72, w * 0.29)
        } else {
            (w * 0.28, w * 0.71)
        };
        Self {
            text_x,
            text_y: h / 2.0,
            text_width: w * 0.5,
            max_lines: 4,
            product: Some(ProductBox {
                centre_x: product_x,
                bottom: h * 0.92,
                width: w * 0.42,
                height: h * 0.76,
            }),
        }
    }
}

fn layout_filters(
    font: &str,
    lines: &[(PathBuf, usize)],
    width: u32,
    height: u32,
    layout: &Layout,
) -> anyhow::Result<Vec<String>> {
    let font_size = (width.min(height) as f64 * 0.075).round();
    let line_height = font_size * 1.3;
    let block = line_height * lines.len() as f64;
    let top = layout.text_y - block / 2.0;
    let centre = layout.text_x;
    let mut filters = Vec::new();
    for (index, (file, _)) in lines.iter().enumerate() {
        filters.push(format!(
            "drawtext=fontfile={font}:textfile={}:fontsize={font_size}:fontcolor=white:\
             x={centre:.0}-text_w/2:y={:.0}:shadowcolor=black@0.45:shadowx=0:shadowy={:.0}:expansion=none",
            filter_path(file)?,
            top + index as f64 * line_height,
            font_size / 14.0
        ));
    }
    if !lines.is_empty() {
        let bar = (layout.text_width * 0.36).round();
        filters.push(format!(
            "drawbox=x={:.0}:y={:.0}:w={bar}:h={:.0}:color=white@0.75:t=fill",
            centre - bar / 2.0,
            top + block + font_size * 0.6,
            (font_size / 12.0).max(3.0)
        ));
    }
    Ok(filters)
}

/// The filters that set the product (input 1) into the background (`[bg]`): fitted into
/// its box, over a soft shadow cast a little below it, ending in `[composed]`.
fn product_filters(product: &ProductBox) -> String {
    let blur = (product.height * 0.035).round().max(4.0);
    let drop = blur;
    let (x, bottom) = (product.centre_x.round(), product.bottom.round());
    format!(
        "[1:v]scale=w={:.0}:h={:.0}:force_original_aspect_ratio=decrease,format=rgba,split[product][cast];\
         [cast]colorchannelmixer=rr=0:gg=0:bb=0:aa=0.55,pad=w=iw+{pad}:h=ih+{pad}:x={blur}:y={blur}:color=black@0,\
         boxblur=luma_radius={blur}:luma_power=2:alpha_radius={blur}:alpha_power=2[shadow];\
         [bg][shadow]overlay=x={x}-overlay_w/2:y={bottom}-overlay_h+{blur}+{drop}[shaded];\
         [shaded][product]overlay=x={x}-overlay_w/2:y={bottom}-overlay_h[composed];",
        product.width,
        product.height,
        pad = blur * 2.0,
    )
}

impl OfflineMedia {
    async fn image(&self, request: &ImageRequest) -> Result<GeneratedMedia, GenerationError> {
        let _permit = self.permits.acquire().await.context("provider closed")?;
        let (width, height) = request.format.dimensions();
        let mut sequence = Sequence(request.seed);
        let mut colours: Vec<Rgb> = request.palette.iter().copied().take(4).collect();
        if colours.is_empty() {
            return Err(GenerationError::Refused(
                "an image needs at least one colour".into(),
            ));
        }
        if colours.len() == 1 {
            let Rgb(r, g, b) = colours[0];
            colours.push(Rgb(r / 3, g / 3, b / 3));
        }
        let first = sequence.below(colours.len() as u64) as usize;
        colours.rotate_left(first);
        // The gradient runs between two opposite corners picked by the seed.
        let corners = [
            (0, 0, width, height),
            (width, 0, 0, height),
            (0, height, width, 0),
            (width, height, 0, 0),
        ];
        let (x0, y0, x1, y1) = corners[sequence.below(4) as usize];
        let palette: Vec<String> = colours
            .iter()
            .enumerate()
            .map(|(i, colour)| format!("c{i}={}", colour.ffmpeg()))
            .collect();
        let source = format!(
            "gradients=s={width}x{height}:{}:nb_colors={}:x0={x0}:y0={y0}:x1={x1}:y1={y1}:seed={}:d=1",
            palette.join(":"),
            colours.len(),
            sequence.below(1 << 31)
        );

        let dir = self.scratch("image")?;
        let font = filter_path(&self.font)?;
        // The cut-out where there is one: the product stands in the scene on its own.
        let product = request
            .product
            .as_ref()
            .map(|product| product.cutout.as_ref().unwrap_or(&product.photo));
        let layout = Layout::of(width, height, product.is_some(), &mut sequence);
        let font_size = width.min(height) as f64 * 0.075;
        let chars_per_line = (layout.text_width / (font_size * 0.68)) as usize;
        let caption = request.caption.as_deref().unwrap_or("");
        let mut lines = Vec::new();
        for (index, line) in wrap(caption, chars_per_line, layout.max_lines)
            .into_iter()
            .enumerate()
        {
            // Text reaches FFmpeg through files, never spliced into the filter graph.
            let file = dir.path().join(format!("line{index}.txt"));
            tokio::fs::write(&file, &line)
                .await
                .context("writing caption")?;
            lines.push((file, line.chars().count()));
        }
        let words = layout_filters(&font, &lines, width, height, &layout)?;
        let mut graph = "[0:v]vignette=PI/5[bg];".to_string();
        let mut inputs = vec!["-f".into(), "lavfi".into(), "-i".into(), source];
        let last = match (layout.product, product) {
            (Some(product_box), Some(photo)) => {
                inputs.extend(["-i".into(), path_arg(photo)]);
                graph.push_str(&product_filters(&product_box));
                "composed"
            }
            _ => "bg",
        };
        graph.push_str(&format!("[{last}]"));
        for filter in words {
            graph.push_str(&filter);
            graph.push(',');
        }
        graph.push_str("format=rgb24[image]");

        let output = dir.path().join("image.png");
        let mut args = inputs;
        args.extend([
            "-filter_complex".into(),
            graph,
            "-map".into(),
            "[image]".into(),
            "-frames:v".into(),
            "1".into(),
            output.to_string_lossy().into_owned(),
        ]);
        ffmpeg::run(&args).await?;
        let mut media = GeneratedMedia::new(dir, "image.png".into(), "png", PROVIDER);
        media.width = Some(width as i32);
        media.height = Some(height as i32);
        Ok(media)
    }
}

impl OfflineMedia {
    async fn video(&self, request: &VideoRequest) -> Result<GeneratedMedia, GenerationError> {
        if !(0.5..=30.0).contains(&request.duration_secs) {
            return Err(GenerationError::Refused(format!(
                "a clip must last between 0.5 and 30 seconds, not {}",
                request.duration_secs
            )));
        }
        let _permit = self.permits.acquire().await.context("provider closed")?;
        let (width, height) = clip_size(request.format);
        let frames = (request.duration_secs * FPS as f64).round() as u32;
        let mut sequence = Sequence(request.seed);
        let depth = 0.10 + sequence.below(6) as f64 / 100.0;
        // Zoom in or out, drifting a little sideways, over the whole clip.
        let zoom = if sequence.below(2) == 0 {
            format!("1+{depth}*on/{frames}")
        } else {
            format!("1+{depth}-{depth}*on/{frames}")
        };
        let drift = if sequence.below(2) == 0 { "+" } else { "-" };
        let filter = format!(
            "scale={}:{},zoompan=z='{zoom}':x='(iw-iw/zoom)/2{drift}(iw-iw/zoom)/4*(on/{frames}-0.5)':\
             y='(ih-ih/zoom)/2':d={frames}:s={width}x{height}:fps={FPS},format=yuv420p",
            width * 2,
            height * 2
        );
        let dir = self.scratch("video")?;
        let output = dir.path().join("clip.mp4");
        ffmpeg::run(&[
            "-loop".into(),
            "1".into(),
            "-framerate".into(),
            FPS.to_string(),
            "-i".into(),
            path_arg(&request.image),
            "-vf".into(),
            filter,
            "-frames:v".into(),
            frames.to_string(),
            "-c:v".into(),
            "libx264".into(),
            "-preset".into(),
            ffmpeg::preset().into(),
            "-crf".into(),
            "20".into(),
            "-movflags".into(),
            "+faststart".into(),
            output.to_string_lossy().into_owned(),
        ])
        .await?;
        let mut media = GeneratedMedia::new(dir, "clip.mp4".into(), "mp4", PROVIDER);
        media.width = Some(width as i32);
        media.height = Some(height as i32);
        media.duration_ms = Some((frames as f64 * 1000.0 / FPS as f64).round() as i32);
        Ok(media)
    }
}

/// The size of an offline clip: 720p in the project's shape, as the video models it
/// stands in for make them (the render scales every clip to the format's full size).
fn clip_size(format: VideoFormat) -> (u32, u32) {
    let (width, height) = format.dimensions();
    let short = width.min(height);
    (
        width * CLIP_SHORT_SIDE / short,
        height * CLIP_SHORT_SIDE / short,
    )
}

const CLIP_SHORT_SIDE: u32 = 720;

/// Chord roots (Hz) of a few four-bar progressions; the seed picks one.
const PROGRESSIONS: [[f64; 4]; 4] = [
    [220.00, 174.61, 261.63, 196.00],
    [196.00, 246.94, 164.81, 220.00],
    [261.63, 220.00, 174.61, 196.00],
    [164.81, 220.00, 196.00, 146.83],
];

impl OfflineMedia {
    async fn music(&self, request: &MusicRequest) -> Result<GeneratedMedia, GenerationError> {
        if !(1.0..=300.0).contains(&request.duration_secs)
            || !(40..=220).contains(&request.tempo_bpm)
        {
            return Err(GenerationError::Refused(
                "music must last 1 to 300 seconds at 40 to 220 beats per minute".into(),
            ));
        }
        let _permit = self.permits.acquire().await.context("provider closed")?;
        let mut sequence = Sequence(request.seed);
        let roots = PROGRESSIONS[sequence.below(PROGRESSIONS.len() as u64) as usize];
        let beat = 60.0 / request.tempo_bpm as f64;
        let bar = beat * 4.0;
        let root = format!(
            "if(eq(ld(0),0),{},if(eq(ld(0),1),{},if(eq(ld(0),2),{},{})))",
            roots[0], roots[1], roots[2], roots[3]
        );
        // A soft triad that swells on each beat, and a low pulse on the beat.
        let expression = format!(
            "st(0,mod(floor(t/{bar}),4));st(1,{root});\
             0.11*(sin(2*PI*ld(1)*t)+0.8*sin(2*PI*ld(1)*1.1892*t)+0.7*sin(2*PI*ld(1)*1.4983*t)+0.3*sin(2*PI*ld(1)*2*t))\
             *(0.55+0.45*exp(-2.5*mod(t,{beat})))\
             +0.32*sin(2*PI*52*t)*exp(-16*mod(t,{beat}))"
        );
        let duration = request.duration_secs;
        let fade_out = duration.min(2.5);
        let dir = self.scratch("music")?;
        let output = dir.path().join("music.m4a");
        ffmpeg::run(&[
            "-f".into(),
            "lavfi".into(),
            "-i".into(),
            format!("aevalsrc=exprs='{expression}':s=44100:d={duration}"),
            "-af".into(),
            format!(
                "afade=t=in:st=0:d={:.2},afade=t=out:st={:.3}:d={fade_out:.3},aformat=channel_layouts=stereo",
                duration.min(1.5),
                duration - fade_out
            ),
            "-c:a".into(),
            "aac".into(),
            "-b:a".into(),
            "160k".into(),
            output.to_string_lossy().into_owned(),
        ])
        .await?;
        let mut media = GeneratedMedia::new(dir, "music.m4a".into(), "m4a", PROVIDER);
        media.duration_ms = Some((duration * 1000.0).round() as i32);
        Ok(media)
    }
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[async_trait::async_trait]
impl ImageGenerator for OfflineMedia {
    async fn generate_image(
        &self,
        request: &ImageRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        // Cancelling drops the work, and FFmpeg with it (it is killed on drop).
        super::calls::measured(PROVIDER, "image", run.cancellable(self.image(request))).await
    }
}

#[async_trait::async_trait]
impl VideoGenerator for OfflineMedia {
    async fn generate_video(
        &self,
        request: &VideoRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        // Cancelling drops the work, and FFmpeg with it (it is killed on drop).
        super::calls::measured(PROVIDER, "video", run.cancellable(self.video(request))).await
    }
}

#[async_trait::async_trait]
impl MusicGenerator for OfflineMedia {
    async fn generate_music(
        &self,
        request: &MusicRequest,
        run: &Run,
    ) -> Result<GeneratedMedia, GenerationError> {
        // Cancelling drops the work, and FFmpeg with it (it is killed on drop).
        super::calls::measured(PROVIDER, "music", run.cancellable(self.music(request))).await
    }
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn captions_wrap_at_word_boundaries_within_the_width() {
        assert_eq!(
            wrap("Wake up to silence that sounds like music", 16, 5),
            ["Wake up to", "silence that", "sounds like", "music"]
        );
    }

    #[test]
    fn long_captions_end_in_an_ellipsis_and_long_words_are_cut() {
        let lines = wrap("one two three four five six seven eight nine ten", 9, 2);
        assert_eq!(lines, ["one two", "three…"]);
        assert_eq!(wrap("Supercalifragilistic", 8, 3), ["Supercal"]);
        assert!(wrap("   ", 10, 3).is_empty());
    }
}
