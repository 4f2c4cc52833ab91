-- Captions of the voiceover: the style a render burns them in (NULL: none), and the cues
-- it burned in, written when it succeeds, from which its SRT and WebVTT files are made.
ALTER TABLE compositions
    ADD COLUMN caption_style text
        CHECK (caption_style IN ('lower_third', 'word_by_word', 'boxed')),
    ADD COLUMN captions jsonb;
