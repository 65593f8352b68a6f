-- The registry of bulletins: the set the index must hold, with each bulletin's original file, so that the index
-- can be rebuilt from here alone and nothing is removed because a folder listing changed (issue 14).
CREATE TABLE bulletins (
    id TEXT PRIMARY KEY,
    origin TEXT NOT NULL CHECK (origin IN ('corpus', 'added', 'file', 'published')),
    name TEXT NOT NULL,          -- the original file name; its suffix gives the format
    path TEXT,                   -- the file it is read from; NULL for a published bulletin
    folder TEXT,                 -- the corpus or added folder it was found in
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    content BLOB NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0,  -- removed on purpose: a refresh does not bring its file back
    registered REAL NOT NULL,
    updated REAL NOT NULL
);
-- Folders added with `bqa index --add PATH`: every refresh indexes what they hold.
CREATE TABLE added_folders (
    path TEXT PRIMARY KEY,
    added REAL NOT NULL
);
-- Questions the bulletins did not answer, or whose answer was rated down: the content-gap report. Kept apart from
-- the conversations, which expire, and filled from what was already stored.
CREATE TABLE gap_questions (
    conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    question TEXT NOT NULL,
    resolved_question TEXT NOT NULL,
    asked REAL NOT NULL,
    unanswered INTEGER NOT NULL,
    disliked INTEGER NOT NULL,
    vector BLOB,                 -- the standalone question's embedding (float32), once the report has computed it
    PRIMARY KEY (conversation_id, turn)
);
CREATE INDEX gap_questions_asked ON gap_questions (asked);
INSERT INTO gap_questions (conversation_id, turn, question, resolved_question, asked, unanswered, disliked)
    SELECT t.conversation_id, t.n, t.question, t.resolved_question, t.created, t.answerable = 0,
           EXISTS (SELECT 1 FROM feedback f WHERE f.conversation_id = t.conversation_id AND f.turn = t.n
                   AND f.rating = 'down')
    FROM turns t
    WHERE t.answerable = 0 OR EXISTS (SELECT 1 FROM feedback f WHERE f.conversation_id = t.conversation_id
                                      AND f.turn = t.n AND f.rating = 'down');
CREATE INDEX feedback_created ON feedback (created);
