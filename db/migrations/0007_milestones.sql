-- Milestones per member (issue 8, section 6): what was announced and which role was given, so a milestone is
-- announced once and its role given once however often the member undoes and redoes the step that reached it.
-- A row is written at the member's first completion of the milestone (a phase number; 0 = the whole plan).
-- announce: 'claimed' (committed before the send) -> 'posted' (message_id) or 'failed' (reason, not retried);
-- 'skipped' when there was nothing to announce then (the member was hidden, or no milestones channel).
-- Members who completed a milestone before this migration have no row: they can be announced once more.
CREATE TABLE milestones (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    milestone  INTEGER NOT NULL,
    reached_at TEXT    NOT NULL,
    announce   TEXT    NOT NULL CHECK (announce IN ('claimed', 'posted', 'failed', 'skipped')),
    message_id INTEGER,
    reason     TEXT,
    role_id    INTEGER,                        -- the role given for it (claimed before the grant); NULL: none
    role_at    TEXT,
    PRIMARY KEY (guild_id, user_id, milestone)
) WITHOUT ROWID;
