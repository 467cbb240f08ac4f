"""/done, /start, /skip, /undo, /redo and /progress, used as a member would in SimCord."""

from __future__ import annotations

import io
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import simcord
from PIL import Image
from simcord import actors as simcord_actors
from simcord.enums import AppCommandType, InteractionType
from simcord.results import InteractionResult
from sqlalchemy import func, select, update

from bot.domain.community import Cohort
from bot.domain.progress import Status
from bot.ui.charts import CALENDAR_SIZE, PROGRESS_SIZE
from db.community import set_cohort
from db.progress import StepChange, apply_changes, history_depth, load_member
from db.settings import set_guild_timezone
from db.tables import members, progress
from tests.conftest import World
from tests.helpers import assert_user_error, embed_text

START = datetime(2026, 1, 1, tzinfo=UTC)  # SimCord's virtual clock starts here


async def statuses(env: simcord.Env, world: World, member: simcord.MemberActor) -> dict[int, Status]:
    progress = await load_member(env.bot.db, world.guild.id, member.id)
    return {n: s.status for n, s in progress.states.items()}


async def seed(env: simcord.Env, world: World, member: simcord.MemberActor, *changes: StepChange,
               at: datetime = START) -> None:
    await apply_changes(env.bot.db, world.guild.id, member.id, changes, at, default_tz=ZoneInfo("UTC"))


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def listen(env: simcord.Env) -> list[tuple[int, int, Any]]:
    events: list[tuple[int, int, Any]] = []

    async def on_progress_changed(guild_id: int, user_id: int, result: Any) -> None:
        events.append((guild_id, user_id, result))

    env.bot.add_listener(on_progress_changed)
    return events


# ---------------------------------------------------------------------- /done

async def test_done_marks_the_current_step_and_says_what_is_next(env: simcord.Env, world: World) -> None:
    events = listen(env)
    r = await world.alice.slash(world.channel, "done", note="  https://github.com/alice/step-1  ")
    assert not r.ephemeral
    text = embed_text(r)
    assert "Step 1 done: Understand what backend development is" in text
    assert "**1/80** steps done (1%)" in text
    assert "Next: **2. Learn HTTP" in text
    assert "https://github.com/alice/step-1" in text
    progress = await load_member(env.bot.db, world.guild.id, world.alice.id)
    assert progress.states[1].note == "https://github.com/alice/step-1"
    assert progress.states[1].done_at == START
    assert [(g, u, res.changed) for g, u, res in events] == [(world.guild.id, world.alice.id, (1,))]


async def test_done_a_named_step_keeps_the_note_of_a_step_in_progress(env: simcord.Env, world: World) -> None:
    await seed(env, world, world.alice, StepChange(12, Status.IN_PROGRESS, "halfway"))
    r = await world.alice.slash(world.channel, "done", step=12)
    assert "Step 12 done" in embed_text(r)
    assert "halfway" in embed_text(r)


async def test_completing_a_phase_is_celebrated(env: simcord.Env, world: World) -> None:
    await seed(env, world, world.alice, *(StepChange(n, Status.DONE) for n in (1, 2, 3)))
    r = await world.alice.slash(world.channel, "done", step=4)
    text = embed_text(r)
    assert "🎉 Phase 1 complete: **Foundations: the web and your tools**" in text
    assert "whole plan" not in text
    assert "Next: **5." in text


async def test_completing_the_plan_is_celebrated(env: simcord.Env, world: World) -> None:
    await seed(env, world, world.alice, *(StepChange(n, Status.DONE) for n in range(1, 80)))
    r = await world.alice.slash(world.channel, "done")
    text = embed_text(r)
    assert "Step 80 done" in text
    assert "**80/80** steps done (100%)" in text
    assert "🏆 You finished the whole plan, all 80 steps" in text
    assert "Phase 19 complete" in text
    r = await world.alice.slash(world.channel, "done")
    assert_user_error(env, r, "already done or skipped")


async def test_done_twice_says_so_and_changes_nothing(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "done", step=3, note="first")
    events = listen(env)
    r = await world.alice.slash(world.channel, "done", step=3, note="second")
    assert r.ephemeral
    assert "is already done" in r.response.content
    assert "nothing changed" in r.response.content
    progress = await load_member(env.bot.db, world.guild.id, world.alice.id)
    assert progress.states[3].note == "first"
    assert await history_depth(env.bot.db, world.guild.id, world.alice.id) == (1, 0)
    assert events == []


async def test_done_refuses_bad_steps_and_long_notes_and_writes_nothing(env: simcord.Env, world: World) -> None:
    for step in (0, -3, 81, 999):
        r = await world.alice.slash(world.channel, "done", step=step)
        assert_user_error(env, r, f"There is no step {step}", "steps go from 1 to 80")
    r = await world.alice.slash(world.channel, "done", step=5, note="x" * 501)
    assert_user_error(env, r, "501 characters", "at most 500")
    assert await statuses(env, world, world.alice) == {}
    assert await env.bot.db.fetchone(select(members)) is None


async def test_step_options_autocomplete(env: simcord.Env, world: World) -> None:
    for command in ("done", "start", "skip"):
        choices = await world.alice.autocomplete(world.channel, command, "step", "docker")
        assert choices
        assert all("docker" in c["name"].casefold() for c in choices)
    by_number = await world.alice.autocomplete(world.channel, "done", "step", "7")
    assert [c["value"] for c in by_number] == [7, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79]


# ---------------------------------------------------------------------- /start and /skip

async def test_start_marks_the_next_step_not_started(env: simcord.Env, world: World) -> None:
    r = await world.alice.slash(world.channel, "start")
    assert "Step 1 in progress" in embed_text(r)
    r = await world.alice.slash(world.channel, "start")
    assert "Step 2 in progress" in embed_text(r)
    r = await world.alice.slash(world.channel, "start", step=2)
    assert r.ephemeral
    assert "already in progress" in r.response.content
    r = await world.alice.slash(world.channel, "done")  # the lowest step in progress
    assert "Step 1 done" in embed_text(r)
    assert await statuses(env, world, world.alice) == {1: Status.DONE, 2: Status.IN_PROGRESS}


async def test_start_reopens_a_done_step(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "done", step=1)
    r = await world.alice.slash(world.channel, "start", step=1)
    assert "It was done; it is back in progress" in embed_text(r)
    assert "**0/80**" in embed_text(r)
    r = await world.alice.slash(world.channel, "start", step=81)
    assert_user_error(env, r, "steps go from 1 to 80")


async def test_skipped_steps_are_passed_over_and_never_count_as_done(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "done")
    r = await world.alice.slash(world.channel, "skip", step=2)
    text = embed_text(r)
    assert "Step 2 skipped" in text
    assert "**1/80**" in text
    assert "Next: **3." in text
    r = await world.alice.slash(world.channel, "done")
    assert "Step 3 done" in embed_text(r)
    assert "**2/80**" in embed_text(r)
    r = await world.alice.slash(world.channel, "skip", step=2)
    assert "already skipped" in r.response.content
    r = await world.alice.slash(world.channel, "skip", step=0)
    assert_user_error(env, r, "There is no step 0")
    r = await world.alice.slash(world.channel, "progress")
    assert "1 skipped" in embed_text(r)


# ---------------------------------------------------------------------- /undo and /redo

async def test_undo_and_redo(env: simcord.Env, world: World) -> None:
    r = await world.alice.slash(world.channel, "undo")
    assert r.ephemeral
    assert "Nothing to undo" in r.response.content
    r = await world.alice.slash(world.channel, "redo")
    assert "Nothing to redo" in r.response.content

    await world.alice.slash(world.channel, "done")
    await world.alice.slash(world.channel, "done")
    events = listen(env)
    r = await world.alice.slash(world.channel, "undo")
    assert r.ephemeral
    text = embed_text(r)
    assert "Undid your last change (1 step)" in text
    assert "2\\. Learn HTTP, request/response, status codes: done → not started" in text
    assert "**1/80**" in text
    assert "1 more can be undone" in text
    assert await statuses(env, world, world.alice) == {1: Status.DONE}
    assert events[-1][2].changed == (2,)

    r = await world.alice.slash(world.channel, "redo")
    text = embed_text(r)
    assert "Redid a change you undid (1 step)" in text
    assert "not started → done" in text
    assert "**2/80**" in text
    assert await statuses(env, world, world.alice) == {1: Status.DONE, 2: Status.DONE}


async def test_a_new_change_clears_redo(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "done")
    await world.alice.slash(world.channel, "undo")
    await world.alice.slash(world.channel, "skip", step=9)
    r = await world.alice.slash(world.channel, "redo")
    assert "Nothing to redo" in r.response.content


async def test_history_and_progress_survive_restarts(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "done", note="before restart")
    await world.alice.slash(world.channel, "skip", step=2)
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    r = await world.alice.slash(world.channel, "undo")
    assert "skipped → not started" in embed_text(r)
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    r = await world.alice.slash(world.channel, "redo")
    assert "not started → skipped" in embed_text(r)
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    r = await world.alice.slash(world.channel, "done")
    assert "Step 3 done" in embed_text(r)
    assert "**2/80**" in embed_text(r)


# ---------------------------------------------------------------------- /progress

async def test_progress_card_with_chart(env: simcord.Env, world: World) -> None:
    day = timedelta(days=1)
    await seed(env, world, world.alice, StepChange(1, Status.DONE), at=START - 3 * day)
    await seed(env, world, world.alice, StepChange(2, Status.DONE), StepChange(3, Status.DONE), at=START - 2 * day)
    await seed(env, world, world.alice, StepChange(4, Status.DONE), at=START - day)
    await seed(env, world, world.alice, StepChange(6, Status.IN_PROGRESS), StepChange(5, Status.SKIPPED))
    r = await world.alice.slash(world.channel, "progress")
    assert not r.ephemeral
    embed = r.response.embeds[0]
    assert embed.title == "alice's progress"
    fields = {f.name: f.value for f in embed.fields}
    assert "**4/80** steps done (5%)" in (embed.description or "")
    assert "1 skipped · 75 to go" in (embed.description or "")
    assert fields["Current step"].startswith("**6. ")
    assert "(in progress)" in fields["Current step"]
    assert fields["Streak"] == "🔥 3 days · best 3"  # yesterday back: today is not over yet
    assert fields["Pace"] == "4.0 steps/week"  # 4 steps, first 3 days ago: measured over one week
    assert "<t:" in fields["Forecast finish"]
    assert "✓  1 Foundations" in fields["Phases"]
    assert fields["Phases"].count("\n") == 20  # 19 phases inside a code block
    assert len(embed.fields) <= 25
    assert all(len(f.value or "") <= 1024 for f in embed.fields)
    assert embed.image.url == "attachment://progress.png"
    assert r.response.embeds[1].image.url == "attachment://activity.png"
    assert [a.filename for a in r.response.attachments] == ["progress.png", "activity.png"]
    chart, calendar = [await a.read() for a in r.response.attachments]
    assert png_size(chart) == PROGRESS_SIZE
    assert png_size(calendar) == CALENDAR_SIZE


async def test_progress_charts_far_from_utc_with_a_cohort_and_dates_out_of_range(env: simcord.Env,
                                                                                  world: World) -> None:
    """/progress attaches the chart and the calendar for a member in UTC+14 on a server with a cohort, even
    when an old database holds a year-1 and a year-9999 done date (failed before: one image, no calendar)."""
    await set_guild_timezone(env.bot.db, world.guild.id, "Pacific/Kiritimati")
    await set_cohort(env.bot.db, world.guild.id, Cohort(date(2025, 12, 1), 5.0))
    await seed(env, world, world.alice, *(StepChange(n, Status.DONE) for n in (1, 2, 3)),
               at=START - timedelta(hours=1))
    async with env.bot.db.transaction() as conn:
        for step, done_at in ((1, datetime(1, 1, 1, tzinfo=UTC)), (2, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))):
            await conn.execute(update(progress).where(progress.c.user_id == world.alice.id, progress.c.step == step)
                               .values(done_at=done_at))
    r = await world.alice.slash(world.channel, "progress")
    assert not r.ephemeral
    card, activity = r.response.embeds
    assert "**3/80** steps done" in (card.description or "")
    assert "Cohort pace" in {f.name for f in card.fields}
    assert (card.image.url, activity.image.url) == ("attachment://progress.png", "attachment://activity.png")
    chart, calendar = [await a.read() for a in r.response.attachments]
    assert (png_size(chart), png_size(calendar)) == (PROGRESS_SIZE, CALENDAR_SIZE)
    await world.bob.slash(world.channel, "done")  # another member's card is fine beside alice's odd rows
    r = await world.alice.slash(world.channel, "progress", member=world.bob)
    assert len(r.response.attachments) == 2


async def test_progress_streak_uses_the_server_time_zone(env: simcord.Env, world: World) -> None:
    # 03:00 and 23:00 UTC on Dec 31 are one day in UTC, but Dec 30 and Dec 31 in New York.
    await seed(env, world, world.alice, StepChange(1, Status.DONE), at=datetime(2025, 12, 31, 3, tzinfo=UTC))
    await seed(env, world, world.alice, StepChange(2, Status.DONE), at=datetime(2025, 12, 31, 23, tzinfo=UTC))
    r = await world.alice.slash(world.channel, "progress")
    assert {f.name: f.value for f in r.response.embeds[0].fields}["Streak"] == "🔥 1 day · best 1"
    await set_guild_timezone(env.bot.db, world.guild.id, "America/New_York")
    r = await world.alice.slash(world.channel, "progress")
    assert {f.name: f.value for f in r.response.embeds[0].fields}["Streak"] == "🔥 2 days · best 2"


async def test_progress_without_activity_has_a_friendly_empty_state(env: simcord.Env, world: World) -> None:
    r = await world.alice.slash(world.channel, "progress")
    assert r.ephemeral
    assert "No steps marked yet: 0/80" in embed_text(r)
    assert "/plan next" in embed_text(r)
    assert r.response.attachments == []
    r = await world.alice.slash(world.channel, "progress", member=world.bob)
    assert "bob's progress" in embed_text(r)
    assert "When they mark a step" in embed_text(r)


async def test_progress_with_only_skips_has_no_forecast_and_no_chart(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "skip", step=1)
    r = await world.alice.slash(world.channel, "progress")
    fields = {f.name: f.value for f in r.response.embeds[0].fields}
    assert fields["Forecast finish"].startswith("Not enough activity yet")
    assert fields["Pace"] == "–"
    assert r.response.attachments == []
    assert "appear here after your first `/done`" in fields["Charts"]  # an empty state, not an empty chart


async def test_progress_of_another_member_respects_privacy(env: simcord.Env, world: World) -> None:
    await world.bob.slash(world.channel, "done")
    r = await world.alice.slash(world.channel, "progress", member=world.bob)
    assert "bob's progress" in embed_text(r)
    assert "**1/80**" in embed_text(r)
    await world.bob.slash(world.channel, "data privacy", visible=False)
    r = await world.alice.slash(world.channel, "progress", member=world.bob)
    assert_user_error(env, r, "bob keeps their progress private")
    r = await world.bob.slash(world.channel, "progress")  # their own card, shown only to them
    assert r.ephemeral
    assert "**1/80**" in embed_text(r)
    r = await world.bob.slash(world.channel, "done")  # a hidden member's /done is not announced
    assert r.ephemeral


async def test_a_member_who_leaves_keeps_their_data(env: simcord.Env, world: World) -> None:
    await world.bob.slash(world.channel, "done", note="mine")
    world.guild.remove_member(world.bob)
    await env.settle()
    assert await statuses(env, world, world.bob) == {1: Status.DONE}
    bob = world.guild.add_member(world.bob.user)
    await env.settle()
    r = await bob.slash(world.channel, "progress")
    assert "**1/80**" in embed_text(r)


# ---------------------------------------------------------------------- 200 members at once

def emit_slash(actor: simcord.MemberActor, channel: Any, name: str, options: dict[str, Any]) -> InteractionResult:
    """Deliver one slash interaction to the bot without waiting for it to be handled.

    SimCord's public `slash` refuses to overlap another operation ("operation overlaps active slash"), so
    `asyncio.gather` of slash calls cannot express "at the same moment". This builds the same interaction
    payload as `MemberActor.slash` (with SimCord's own helpers) and emits it; the test then emits the next
    one at once and settles after the last, so the bot has all of them in flight together.
    """
    interactions: Any = simcord_actors._interactions
    root = simcord_actors._resolve_visible_command(actor, channel.id, name, AppCommandType.CHAT_INPUT)
    leaf, nesting = interactions.walk_to_subcommand(root, [])
    leaf_options, _resolved = interactions.build_options(actor, name, leaf, options, channel_id=channel.id)
    data = {"id": root["id"], "name": root["name"], "type": AppCommandType.CHAT_INPUT,
            "options": interactions.nest_options(root, nesting, leaf_options)}
    record, payload = interactions.base_payload(env_backend(actor), type=InteractionType.APPLICATION_COMMAND,
                                                channel_id=channel.id, guild_id=actor.guild.id, user_id=actor.id,
                                                data=data)
    actor._env._notify_dispatch_observers(record)
    env_backend(actor).emit("INTERACTION_CREATE", payload)
    return InteractionResult(actor._env, record)


def env_backend(actor: simcord.MemberActor) -> Any:
    return actor._env.backend


async def test_200_members_marking_at_the_same_moment_all_land(env: simcord.Env) -> None:
    world = World(env, members=200)
    await env.settle()
    in_flight = peak = 0
    tree: Any = env.bot.tree
    original = tree._call

    async def counting(interaction: Any) -> Any:  # measures overlap only; the real handler runs
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            return await original(interaction)
        finally:
            in_flight -= 1

    tree._call = counting
    started = time.perf_counter()
    results = [emit_slash(m, world.channel, "done", {"step": 1 + i % 80, "note": f"member {i}"})
               for i, m in enumerate(world.members)]
    await env.settle()
    tree._call = original
    assert peak > 100, f"only {peak} commands overlapped"
    assert all(r.acknowledged and not r.ephemeral for r in results)
    assert all("**1/80**" in embed_text(r) for r in results)
    p = progress.c
    rows = list(await env.bot.db.fetchall(
        select(p.user_id, p.step, p.note).where(p.guild_id == world.guild.id).order_by(p.user_id)))
    expected = {(m.id, 1 + i % 80, f"member {i}") for i, m in enumerate(world.members)}
    assert {(r[0], r[1], r[2]) for r in rows} == expected
    summary = await env.bot.db.fetchone(
        select(func.count(), func.sum(members.c.done_count)).where(members.c.guild_id == world.guild.id))
    assert summary is not None
    assert tuple(summary) == (200, 200)
    assert time.perf_counter() - started < 30


async def test_help_lists_the_progress_and_data_commands(env: simcord.Env, world: World) -> None:
    r = await world.alice.slash(world.channel, "help")
    fields = {f.name: f.value for f in r.response.embeds[0].fields}
    assert "**/done** `[step]` `[note]`" in fields["Your progress"]
    assert "**/progress** `[member]`" in fields["Your progress"]
    assert "**/data import** `file`" in fields["Your data"]
    assert all(len(v or "") <= 1024 for v in fields.values())


async def test_progress_says_how_the_member_stands_against_the_cohort(env: simcord.Env, world: World) -> None:
    from bot.domain.community import Cohort
    from db.community import set_cohort

    await seed(env, world, world.alice, *(StepChange(n, Status.DONE) for n in range(1, 4)))
    r = await world.alice.slash(world.channel, "progress")
    assert "Cohort pace" not in embed_text(r)  # no cohort configured: no line about it
    # Started 14 days before SimCord's clock at 5 steps a week: 10 expected, alice has 3.
    await set_cohort(env.bot.db, world.guild.id, Cohort(START.date() - timedelta(days=14), 5))
    r = await world.alice.slash(world.channel, "progress")
    assert "🐢 Behind the cohort by 7 steps (3 done, 10 expected so far)." in embed_text(r)
    await seed(env, world, world.alice, *(StepChange(n, Status.DONE) for n in range(4, 13)))
    r = await world.alice.slash(world.channel, "progress")
    assert "🚀 Ahead of the cohort by 2 steps (12 done, 10 expected so far)." in embed_text(r)


async def test_progress_of_a_bot_is_a_clear_error(env: simcord.Env, world: World) -> None:
    helper = world.guild.add_member(env.create_user("studybot", bot=True))
    await env.settle()
    r = await world.alice.slash(world.channel, "progress", member=helper)
    assert_user_error(env, r, "is a bot and does not study", "Pick a member")
