-- Scheduled leaderboard posts: one durable delivery per server and slot (issue 8, section 2).
-- A slot is claimed (this row, committed) before the send, then posted (message_id) or failed (reason).
-- A claim still 'claimed' after a crash or a network error is tried again, with the same nonce, within the
-- slot's 6-hour window; after that it becomes 'failed'. Rows older than 30 days are pruned when claiming.
CREATE TABLE leaderboard_posts (
    guild_id    INTEGER NOT NULL,
    slot        TEXT    NOT NULL,             -- the slot's UTC instant
    nonce       TEXT    NOT NULL,             -- derived from guild and slot; sent as the message nonce
    channel_id  INTEGER,                      -- the channel it goes to (fixed at the claim)
    late        INTEGER NOT NULL DEFAULT 0,   -- claimed more than a minute after the slot
    state       TEXT    NOT NULL DEFAULT 'claimed' CHECK (state IN ('claimed', 'posted', 'failed')),
    claimed_at  TEXT    NOT NULL,
    attempt_at  TEXT    NOT NULL,             -- when the latest attempt started
    attempts    INTEGER NOT NULL DEFAULT 1,
    message_id  INTEGER,                      -- posted
    reason      TEXT,                         -- failed: why; claimed: why the last attempt did not finish
    finished_at TEXT,                         -- when it became posted or failed
    PRIMARY KEY (guild_id, slot)
) WITHOUT ROWID;

CREATE INDEX leaderboard_posts_open ON leaderboard_posts (attempt_at) WHERE state = 'claimed';
