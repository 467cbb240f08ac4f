"""/insights' numbers on a real database (SQLite and PostgreSQL): a seeded server's funnel, step medians and 90th
percentiles, weekly active learners and stalled members, each checked against a count made here, member by member,
from the seeding itself (not from the store's summaries)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.plan import parse_plan
from bot.domain.progress import Status
from bot.domain.tracks import Track
from bot.services import insights as service
from db.database import Database
from db.progress import StepChange, apply_changes, set_visible, undo
from db.tracks import add_plan, switch_track

G = 3
UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)  # a Monday
PLAN_TEXT = "# Book club\n" + "".join(f"- [ ] {i}. Chapter {i} (Read chapter {i})\n" for i in range(1, 9))


def lower_median(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


def p90(values: list[int]) -> int:
    ordered = sorted(values)
    rank = -(-9 * len(ordered) // 10)  # ceil(0.9 n): nearest rank
    return ordered[rank - 1]


async def test_a_seeded_track_matches_a_count_made_member_by_member(db: Database) -> None:
    plan = parse_plan(PLAN_TEXT)
    row = await add_plan(db, G, name="Book club", title="Book club", steps=8, source=PLAN_TEXT, now=NOW, by=None,
                         limit=10)
    track = Track(row.plan_id, "Book club", plan, 1)
    rng = random.Random(11)
    gaps: dict[int, list[int]] = {}
    reached_steps: dict[int, int] = {}
    last_done: dict[int, datetime] = {}
    active_weeks: dict[date, set[int]] = {}
    for user in range(1, 41):
        start = NOW - timedelta(days=rng.randint(20, 80), hours=rng.randint(0, 20))
        await switch_track(db, G, user, row.plan_id, steps=range(1, 9), now=start, default_tz=UTC_ZONE)
        count = rng.randint(0, 8)
        at = start
        for step in range(1, count + 1):
            at += timedelta(days=rng.choice([0, 1, 2, 3, 5, 8, 13]), hours=rng.randint(0, 10))
            if at > NOW:
                break
            await apply_changes(db, G, user, [StepChange(step, Status.DONE)], at, default_tz=UTC_ZONE)
            gaps.setdefault(step, []).append(((at - start) if step == 1 else (at - last_done[user])).days)
            last_done[user] = at
            reached_steps[user] = step
            active_weeks.setdefault((at - timedelta(days=at.weekday())).date(), set()).add(user)
    # A change undone takes its duration back; the member's current step is recomputed.
    undone_user = next(u for u, s in reached_steps.items() if s >= 2)
    step = reached_steps[undone_user]
    await apply_changes(db, G, undone_user, [StepChange(step + 1, Status.DONE)] if step < 8 else [],
                        NOW - timedelta(hours=1), default_tz=UTC_ZONE)
    assert await undo(db, G, undone_user, NOW - timedelta(minutes=30), default_tz=UTC_ZONE) is not None
    active_weeks.setdefault(date(2026, 6, 15), set()).add(undone_user)  # both writes were this week
    # One member hides: counted, never named.
    hidden = next(u for u in range(1, 41) if reached_steps.get(u, 0) < 8 and
                  last_done.get(u, NOW - timedelta(days=90)) < NOW - timedelta(days=14))
    await set_visible(db, G, hidden, False, NOW - timedelta(days=100))

    result = await service.report(db, G, track, NOW, UTC_ZONE)
    ins = result.insights

    members = 40
    assert ins.members == members
    assert ins.finished == sum(1 for s in reached_steps.values() if s == 8)
    for funnel in ins.funnel:
        assert funnel.reached == sum(1 for s in reached_steps.values() if s >= funnel.step), funnel.step
    timed = {d.step: d for d in ins.durations}
    for step_number, values in gaps.items():
        assert (timed[step_number].members, timed[step_number].median_days, timed[step_number].p90_days) == \
            (len(values), lower_median(values), p90(values)), step_number
    assert set(timed) == set(gaps)
    weeks = {w.start: w.active for w in ins.weeks}
    for monday, users in active_weeks.items():
        if monday in weeks:
            assert weeks[monday] == len(users), monday
    assert sum(weeks.values()) == sum(len(u) for m, u in active_weeks.items() if m in weeks)
    cutoff = NOW - timedelta(days=14)
    stalled = {u for u in range(1, 41) if reached_steps.get(u, 0) < 8
               and (last_done[u] if u in last_done else None or datetime.min.replace(tzinfo=UTC)) < cutoff}
    never = {u for u in range(1, 41) if u not in last_done}  # nothing done: stalled since they started
    assert ins.stalled.total == len(stalled | never)
    named = {s.user_id for s in result.nudgeable}
    assert hidden not in named
    assert named == (stalled | never) - {hidden}
    assert result.hidden_stalled == 1
    assert Counter(s.step for s in result.nudgeable) == Counter(reached_steps.get(u, 0) + 1 for u in named)
