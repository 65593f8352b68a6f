-- The schema bqa had before it was versioned (service/history.py until issue 14), statement for statement, so a
-- data folder made by that code passes through this step unchanged and is then upgraded by the later ones.
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    question TEXT NOT NULL,
    resolved_question TEXT NOT NULL,
    answer TEXT NOT NULL,
    answerable INTEGER NOT NULL,
    citations TEXT NOT NULL,
    timing_ms TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (conversation_id, n)
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    turn INTEGER NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT,
    source TEXT NOT NULL,
    created REAL NOT NULL
);
-- The Slack bot: which conversation a Slack thread is, and which deliveries it has already taken.
CREATE TABLE IF NOT EXISTS slack_threads (
    team TEXT NOT NULL,
    channel TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (team, channel, thread_ts)
);
-- Who has asked the bot in a Slack thread: their plain replies there are follow-ups, without a new mention.
CREATE TABLE IF NOT EXISTS slack_thread_askers (
    team TEXT NOT NULL,
    channel TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    user TEXT NOT NULL,
    PRIMARY KEY (team, channel, thread_ts, user)
);
CREATE TABLE IF NOT EXISTS slack_deliveries (
    key TEXT PRIMARY KEY,
    seen REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS slack_deliveries_seen ON slack_deliveries (seen);
