-- Core schema: settings, per-member summary, per-step progress, undo history, period counts.
-- Times are ISO-8601 UTC text with microseconds ('2026-01-02T03:04:05.000000+00:00'): they sort as they compare.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE guild_settings (
    guild_id INTEGER PRIMARY KEY,
    timezone TEXT
);

-- One row per member who ever used the bot in a server: the summary that rankings read.
CREATE TABLE members (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    visible    INTEGER NOT NULL DEFAULT 1,
    done_count INTEGER NOT NULL DEFAULT 0,
    reached_at TEXT    NOT NULL,           -- when done_count was reached (latest done_at), for ties
    timezone   TEXT,                       -- the member's own zone (from reminders); NULL: the server's
    created_at TEXT    NOT NULL,
    PRIMARY KEY (guild_id, user_id)
) WITHOUT ROWID;

CREATE INDEX members_rank ON members (guild_id, done_count DESC, reached_at, user_id) WHERE visible = 1;

CREATE TABLE progress (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    step       INTEGER NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('done', 'skipped', 'in_progress')),
    note       TEXT,
    updated_at TEXT    NOT NULL,
    done_at    TEXT,
    PRIMARY KEY (guild_id, user_id, step),
    FOREIGN KEY (guild_id, user_id) REFERENCES members (guild_id, user_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX progress_by_step ON progress (guild_id, step, status);

-- Each user action is one batch; undo takes back the newest batch not undone, redo the oldest undone one.
CREATE TABLE history (
    id             INTEGER PRIMARY KEY,
    guild_id       INTEGER NOT NULL,
    user_id        INTEGER NOT NULL,
    batch          INTEGER NOT NULL,
    step           INTEGER NOT NULL,
    before_status  TEXT,
    before_note    TEXT,
    before_done_at TEXT,
    after_status   TEXT,
    after_note     TEXT,
    after_done_at  TEXT,
    at             TEXT    NOT NULL,
    undone         INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (guild_id, user_id) REFERENCES members (guild_id, user_id) ON DELETE CASCADE
);

CREATE INDEX history_member ON history (guild_id, user_id, undone, batch);

-- Steps done per member per local week ('2026-W05') and month ('2026-02') in the server's zone.
CREATE TABLE period_counts (
    guild_id   INTEGER NOT NULL,
    period     TEXT    NOT NULL,
    user_id    INTEGER NOT NULL,
    done_count INTEGER NOT NULL,
    reached_at TEXT    NOT NULL,
    PRIMARY KEY (guild_id, period, user_id),
    FOREIGN KEY (guild_id, user_id) REFERENCES members (guild_id, user_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX period_rank ON period_counts (guild_id, period, done_count DESC, reached_at, user_id);
