//! The library of art directions the offline director picks moods from, each with the
//! tones it suits: data, and the one lookup from tones to visual styles.

/// An art direction the offline director can propose.
pub(super) struct Direction {
    pub(super) name: &'static str,
    pub(super) tags: &'static [&'static str],
    pub(super) description: &'static str,
    pub(super) keywords: &'static [&'static str],
    pub(super) palette: [&'static str; 5],
    pub(super) aesthetic: &'static str,
    pub(super) tempo_bpm: u32,
}

pub(super) const DIRECTIONS: &[Direction] = &[
    Direction {
        name: "Golden Hour",
        tags: &[
            "warm",
            "nostalgic",
            "friendly",
            "cosy",
            "cozy",
            "intimate",
            "heartfelt",
            "authentic",
            "honest",
            "human",
        ],
        description: "Sunlit, unhurried moments that feel lived-in and true",
        keywords: &["warm backlight", "film grain", "soft focus", "lived-in"],
        palette: ["#2b1a12", "#7a3e1d", "#d9822b", "#f2c14e", "#fbeed7"],
        aesthetic: "late-afternoon sun, slow dolly moves, shallow depth of field",
        tempo_bpm: 84,
    },
    Direction {
        name: "Neon Pulse",
        tags: &[
            "energetic",
            "exciting",
            "bold",
            "young",
            "fun",
            "dynamic",
            "fast",
            "electric",
            "vibrant",
        ],
        description: "High-energy night colour with quick, rhythmic cuts",
        keywords: &["neon glow", "high contrast", "motion blur", "night city"],
        palette: ["#0b0221", "#3a0ca3", "#f72585", "#4cc9f0", "#e0fbfc"],
        aesthetic: "saturated neon against deep shadow, whip pans, punchy close-ups",
        tempo_bpm: 124,
    },
    Direction {
        name: "Nordic Calm",
        tags: &[
            "calm",
            "minimal",
            "clean",
            "simple",
            "serene",
            "peaceful",
            "relaxed",
            "trustworthy",
            "focused",
        ],
        description: "Quiet, airy spaces where the product has room to breathe",
        keywords: &[
            "negative space",
            "soft daylight",
            "matte textures",
            "minimal",
        ],
        palette: ["#1f2a30", "#51646e", "#a3b8c2", "#dfe7ea", "#f7f9fa"],
        aesthetic: "diffuse window light, symmetrical framing, slow locked-off shots",
        tempo_bpm: 72,
    },
    Direction {
        name: "Studio Luxe",
        tags: &[
            "premium",
            "elegant",
            "luxurious",
            "luxury",
            "sophisticated",
            "exclusive",
            "refined",
            "confident",
        ],
        description: "Dark, polished studio light that makes every detail precious",
        keywords: &[
            "rim light",
            "macro detail",
            "glossy reflections",
            "editorial",
        ],
        palette: ["#0d0d0d", "#3b3024", "#8c6d46", "#cfb997", "#f4efe6"],
        aesthetic: "low-key studio lighting, slow orbiting camera, macro textures",
        tempo_bpm: 90,
    },
    Direction {
        name: "Fresh Market",
        tags: &[
            "healthy",
            "natural",
            "fresh",
            "optimistic",
            "green",
            "sustainable",
            "organic",
            "happy",
            "uplifting",
        ],
        description: "Bright, natural freshness with greens and morning light",
        keywords: &["morning light", "natural textures", "botanical", "crisp"],
        palette: ["#12351f", "#2d6a4f", "#74c69d", "#d8f3dc", "#fffbea"],
        aesthetic: "bright morning light, handheld warmth, overhead table shots",
        tempo_bpm: 104,
    },
    Direction {
        name: "Urban Edge",
        tags: &[
            "confident",
            "edgy",
            "rebellious",
            "bold",
            "powerful",
            "gritty",
            "strong",
            "determined",
        ],
        description: "Concrete, contrast and attitude for a product that stands its ground",
        keywords: &["hard shadows", "concrete", "street style", "graphic"],
        palette: ["#111111", "#2f2f2f", "#e63946", "#a8a8a8", "#f1faee"],
        aesthetic: "hard midday light, low angles, graphic compositions",
        tempo_bpm: 96,
    },
    Direction {
        name: "Pastel Pop",
        tags: &[
            "playful", "fun", "cheerful", "friendly", "joyful", "quirky", "light", "happy",
            "youthful",
        ],
        description: "Candy colours and bouncy framing that make people smile",
        keywords: &["pastel sets", "flat lay", "bouncy motion", "playful props"],
        palette: ["#3d314a", "#ff8fab", "#ffc6ff", "#bde0fe", "#fdffb6"],
        aesthetic: "even bright light, colour-blocked sets, playful stop-motion feel",
        tempo_bpm: 116,
    },
    Direction {
        name: "Deep Tech",
        tags: &[
            "innovative",
            "smart",
            "futuristic",
            "modern",
            "trustworthy",
            "precise",
            "reliable",
            "professional",
            "inspiring",
        ],
        description: "Cool blues and precise light for something cleverly made",
        keywords: &[
            "cool gradients",
            "glass and light",
            "clean UI glow",
            "precision",
        ],
        palette: ["#03045e", "#0077b6", "#00b4d8", "#90e0ef", "#caf0f8"],
        aesthetic: "cool key light, slow push-ins, reflections on glass",
        tempo_bpm: 110,
    },
];

pub(super) fn style_for_tone(tones: &[String]) -> Vec<String> {
    let mut styles: Vec<String> = Vec::new();
    for tone in tones {
        if let Some(direction) = DIRECTIONS.iter().find(|d| d.tags.contains(&tone.as_str())) {
            for keyword in direction.keywords.iter().take(2) {
                if !styles.iter().any(|s| s == keyword) {
                    styles.push((*keyword).to_string());
                }
            }
        }
    }
    if styles.is_empty() {
        styles = vec!["clean product shots".into(), "soft natural light".into()];
    }
    styles.truncate(4);
    styles
}
