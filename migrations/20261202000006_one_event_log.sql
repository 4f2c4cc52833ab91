-- One event log for every live topic: a storyboard's scenes, a render's progress and a
-- project's mood boards and music. Each topic numbers its events under its row in
-- event_streams (the row lock orders them by commit); both belong to the project, so a
-- deleted project takes its events with it.

CREATE TABLE event_streams (
    topic      text NOT NULL CHECK (topic IN ('storyboard', 'render', 'project')),
    topic_id   uuid NOT NULL,
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    last_seq   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, topic_id)
);
CREATE INDEX event_streams_project ON event_streams (project_id);

CREATE TABLE events (
    topic      text NOT NULL,
    topic_id   uuid NOT NULL,
    seq        bigint NOT NULL,
    kind       text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, topic_id, seq),
    FOREIGN KEY (topic, topic_id) REFERENCES event_streams (topic, topic_id) ON DELETE CASCADE
);

INSERT INTO event_streams (topic, topic_id, project_id, last_seq)
    SELECT 'storyboard', id, project_id, last_seq FROM storyboards;
INSERT INTO event_streams (topic, topic_id, project_id, last_seq)
    SELECT 'render', id, project_id, last_seq FROM compositions;
INSERT INTO events (topic, topic_id, seq, kind, payload, created_at)
    SELECT 'storyboard', storyboard_id, seq, kind, payload, created_at FROM storyboard_events;
INSERT INTO events (topic, topic_id, seq, kind, payload, created_at)
    SELECT 'render', composition_id, seq, kind, payload, created_at FROM composition_events;

DROP TABLE storyboard_events;
DROP TABLE composition_events;
ALTER TABLE storyboards DROP COLUMN last_seq;
ALTER TABLE compositions DROP COLUMN last_seq;

-- Mood boards are made by jobs, one per image: a board's slots fill in as they arrive.
ALTER TABLE moods ADD COLUMN shots smallint NOT NULL DEFAULT 3 CHECK (shots BETWEEN 0 AND 6);
ALTER TABLE moods ADD COLUMN error text;
ALTER TABLE projects ADD COLUMN music_error text;
