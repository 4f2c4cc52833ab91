-- A scene's image can be approved while its voiceover is still being spoken: the clip's
-- length comes from the spoken line, so the clip is asked for when the speech is done.
-- This remembers that the user asked for it (`Approve all images` included).
ALTER TABLE scenes ADD COLUMN clip_awaits_voice boolean NOT NULL DEFAULT false;
