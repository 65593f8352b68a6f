-- Step 1 of the PostgreSQL schema: the same tables as sqlite/0001_init.sql, in PostgreSQL's types (epoch seconds
-- as DOUBLE PRECISION, flags as BOOLEAN, an identity column for feedback ids). A PostgreSQL database has no data
-- from before schema versions, so this step is plain CREATE TABLE.
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    created DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL
);
CREATE TABLE turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    question TEXT NOT NULL,
    resolved_question TEXT NOT NULL,
    answer TEXT NOT NULL,
    answerable BOOLEAN NOT NULL,
    citations TEXT NOT NULL,
    timing_ms TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (conversation_id, n)
);
CREATE TABLE feedback (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    turn INTEGER NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT,
    source TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL
);
-- The Slack bot: which conversation a Slack thread is, and which deliveries it has already taken.
CREATE TABLE slack_threads (
    team TEXT NOT NULL,
    channel TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    updated DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (team, channel, thread_ts)
);
-- Who has asked the bot in a Slack thread ("user" is a reserved word in PostgreSQL, hence the quotes).
CREATE TABLE slack_thread_askers (
    team TEXT NOT NULL,
    channel TEXT NOT NULL,
    thread_ts TEXT NOT NULL,
    "user" TEXT NOT NULL,
    PRIMARY KEY (team, channel, thread_ts, "user")
);
CREATE TABLE slack_deliveries (
    key TEXT PRIMARY KEY,
    seen DOUBLE PRECISION NOT NULL
);
CREATE INDEX slack_deliveries_seen ON slack_deliveries (seen);
