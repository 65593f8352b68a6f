-- Step 2, as sqlite/0002_registry_and_gaps.sql: the registry of bulletins with their original files (shared by
-- every machine of a deployment, so any of them can rebuild the index), the added folders, and the content-gap
-- questions, filled from what step 1's tables already hold.
CREATE TABLE bulletins (
    id TEXT PRIMARY KEY,
    origin TEXT NOT NULL CHECK (origin IN ('corpus', 'added', 'file', 'published')),
    name TEXT NOT NULL,
    path TEXT,
    folder TEXT,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    content BYTEA NOT NULL,
    removed BOOLEAN NOT NULL DEFAULT FALSE,
    registered DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL
);
CREATE TABLE added_folders (
    path TEXT PRIMARY KEY,
    added DOUBLE PRECISION NOT NULL
);
CREATE TABLE gap_questions (
    conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    question TEXT NOT NULL,
    resolved_question TEXT NOT NULL,
    asked DOUBLE PRECISION NOT NULL,
    unanswered BOOLEAN NOT NULL,
    disliked BOOLEAN NOT NULL,
    vector BYTEA,
    PRIMARY KEY (conversation_id, turn)
);
CREATE INDEX gap_questions_asked ON gap_questions (asked);
INSERT INTO gap_questions (conversation_id, turn, question, resolved_question, asked, unanswered, disliked)
    SELECT t.conversation_id, t.n, t.question, t.resolved_question, t.created, NOT t.answerable,
           EXISTS (SELECT 1 FROM feedback f WHERE f.conversation_id = t.conversation_id AND f.turn = t.n
                   AND f.rating = 'down')
    FROM turns t
    WHERE NOT t.answerable OR EXISTS (SELECT 1 FROM feedback f WHERE f.conversation_id = t.conversation_id
                                      AND f.turn = t.n AND f.rating = 'down');
CREATE INDEX feedback_created ON feedback (created);
