-- Daily reminder DMs: one reminder per member per server, and a record of each local day's DM.
-- next_due_utc is the one column the scheduler reads: the earlier of the daily reminder and a pending snooze,
-- NULL while the reminder is off or paused, so the partial index holds only reminders that can fire.

CREATE TABLE reminders (
    guild_id      INTEGER NOT NULL,
    user_id       INTEGER NOT NULL,
    local_time    TEXT    NOT NULL,                 -- 'HH:MM' on the member's wall clock
    timezone      TEXT    NOT NULL,                 -- IANA name
    days          INTEGER NOT NULL CHECK (days BETWEEN 1 AND 127),  -- bit 0 = Monday ... bit 6 = Sunday
    enabled       INTEGER NOT NULL DEFAULT 1,       -- 0 after /remind off or the Stop button (settings kept)
    paused_reason TEXT,                             -- 'dms_closed': the bot could not DM the member
    paused_at     TEXT,
    pause_noticed INTEGER NOT NULL DEFAULT 0,       -- the member was told how to fix the pause
    regular_due   TEXT,                             -- the next daily reminder (UTC)
    due_date      TEXT,                             -- regular_due's local date: the sent-record it would write
    snooze_until  TEXT,                             -- a pending snooze (UTC)
    snooze_for    TEXT,                             -- the local date the snoozed reminder is for
    next_due_utc  TEXT,                             -- MIN(regular_due, snooze_until); NULL: cannot fire
    dm_channel_id INTEGER,                          -- so a reminder costs one request
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL,
    PRIMARY KEY (guild_id, user_id),
    FOREIGN KEY (guild_id, user_id) REFERENCES members (guild_id, user_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX reminders_due ON reminders (next_due_utc) WHERE next_due_utc IS NOT NULL;
CREATE INDEX reminders_user ON reminders (user_id);

-- At most one daily reminder per member and local date: the tick inserts this row in the same transaction
-- that advances next_due_utc, so re-runs and restarts never send a day's reminder twice.
CREATE TABLE reminder_sends (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    local_date TEXT    NOT NULL,                    -- 'YYYY-MM-DD' in the member's zone
    outcome    TEXT    NOT NULL CHECK (outcome IN ('sent', 'missed')),
    kind       TEXT,                                -- 'daily' / 'late' ('missed': NULL)
    due_utc    TEXT    NOT NULL,
    sent_at    TEXT    NOT NULL,
    step       INTEGER,                             -- the step the DM named
    message_id INTEGER,
    snoozes    INTEGER NOT NULL DEFAULT 0,          -- snoozed DMs sent for that day
    action     TEXT,                                -- what the member pressed: done / snooze / skip / stop
    PRIMARY KEY (guild_id, user_id, local_date),
    FOREIGN KEY (guild_id, user_id) REFERENCES members (guild_id, user_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX reminder_sends_age ON reminder_sends (sent_at);
