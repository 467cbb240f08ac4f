-- Reminder deliveries with a durable state, and when each member's membership was last checked.
--
-- A delivery is one DM the tick decided to send: the day's reminder (slot 'day', daily or late: at most one per
-- member and local date) or a snoozed one (slot 'snooze <instant>'). The tick commits the row as 'claimed' before
-- it sends, then marks it 'sent' (with the message id, in the same transaction that writes the sent-record and
-- advances the reminder) or 'failed' (with the reason). A row left 'claimed' by a crash is sent again only after
-- a grace period, with the same nonce (derived from the key), so Discord returns the message it already made.

CREATE TABLE reminder_deliveries (
    guild_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    local_date  TEXT    NOT NULL,                   -- 'YYYY-MM-DD' in the member's zone: the day the DM is for
    slot        TEXT    NOT NULL,                   -- 'day', or 'snooze ' + the snooze instant (UTC)
    kind        TEXT    NOT NULL CHECK (kind IN ('daily', 'late', 'snoozed')),
    nonce       TEXT    NOT NULL,                   -- sent with the message (enforce_nonce), at most 25 characters
    state       TEXT    NOT NULL CHECK (state IN ('claimed', 'sent', 'failed')),
    claimed_at  TEXT    NOT NULL,                   -- the last claim (UTC)
    attempts    INTEGER NOT NULL DEFAULT 1,
    finished_at TEXT,                               -- when it became sent or failed
    message_id  INTEGER,                            -- sent: the DM
    reason      TEXT,                               -- failed: why
    PRIMARY KEY (guild_id, user_id, local_date, slot),
    FOREIGN KEY (guild_id, user_id) REFERENCES members (guild_id, user_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX reminder_deliveries_age ON reminder_deliveries (claimed_at);

-- When the bot last confirmed (one REST lookup) that the member is still in the server: checked before a DM at
-- most once a week. Existing reminders are spread over the coming week so the checks do not all fall on one day.
ALTER TABLE reminders ADD COLUMN member_checked_at TEXT;

UPDATE reminders SET member_checked_at =
    strftime('%Y-%m-%dT%H:%M:%S.000000+00:00', 'now', '-' || (user_id % 7) || ' days');
