"""/data export|import|forget|privacy, used as a member would in SimCord."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import simcord
from sqlalchemy import func, select

from bot.domain.progress import Status
from db.progress import StepChange, apply_changes, history_depth, load_member
from db.tables import history, members, period_counts, progress, reminder_sends, reminders
from tests.conftest import World
from tests.helpers import assert_user_error, button_labels, embed_text

START = datetime(2026, 1, 1, tzinfo=UTC)


async def snapshot(env: simcord.Env, world: World, member: simcord.MemberActor) -> dict[int, tuple[object, ...]]:
    progress = await load_member(env.bot.db, world.guild.id, member.id)
    return {n: (s.status, s.note, s.done_at) for n, s in progress.states.items()}


async def seed_alice(env: simcord.Env, world: World) -> None:
    tz = ZoneInfo("UTC")
    for day, changes in enumerate([
        [StepChange(1, Status.DONE, "https://example.com/one"), StepChange(2, Status.DONE)],
        [StepChange(3, Status.SKIPPED, "knew it"), StepChange(4, Status.DONE, "*bold* @everyone")],
        [StepChange(5, Status.IN_PROGRESS, "half")],
    ]):
        await apply_changes(env.bot.db, world.guild.id, world.alice.id, changes,
                            START - timedelta(days=3 - day, minutes=7 * day), default_tz=tz)


async def export(world: World, member: simcord.MemberActor | None = None) -> tuple[simcord.InteractionResult, bytes]:
    r = await (member or world.alice).slash(world.channel, "data export")
    return r, await r.response.attachments[0].read()


async def test_export_sends_an_ephemeral_markdown_checklist(env: simcord.Env, world: World) -> None:
    await seed_alice(env, world)
    r, data = await export(world)
    assert r.ephemeral
    assert "3/80 steps done, 1 skipped" in r.response.content
    assert r.response.attachments[0].filename == "stepwise-progress-study-hall.md"
    text = data.decode()
    assert "- [x] 1. Understand what backend development is" in text
    assert "  - note: https://example.com/one" in text
    assert "  - status: skipped" in text
    assert "  - status: in progress" in text
    assert "  - note: *bold* @everyone" in text  # the file keeps the note as typed


async def test_round_trip_export_forget_import_restores_the_same_progress(env: simcord.Env, world: World) -> None:
    await seed_alice(env, world)
    await world.bob.slash(world.channel, "done")
    before = await snapshot(env, world, world.alice)
    _, data = await export(world)

    r = await world.alice.slash(world.channel, "data forget")
    assert r.ephemeral
    assert "Delete everything Stepwise stores about you" in embed_text(r)
    assert button_labels(r.response) == ["Delete my data", "Cancel"]
    click = await world.alice.click(r.response, label="Delete my data")
    assert "everything about you in this server is deleted (5 marked steps)" in click.response.content
    assert await snapshot(env, world, world.alice) == {}
    assert await env.bot.db.fetchone(select(members).where(members.c.user_id == world.alice.id)) is None
    assert await snapshot(env, world, world.bob) != {}  # only the caller's data

    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    r = await world.alice.slash(world.channel, "data import", file=("stepwise-progress.md", data))
    assert r.ephemeral
    text = embed_text(r)
    assert "would change **5** of your steps (75 already match)" in text
    assert "Marked done: 3" in text
    assert "Skipped: 1" in text
    assert "In progress: 1" in text
    assert button_labels(r.response) == ["Import", "Cancel"]
    assert await snapshot(env, world, world.alice) == {}  # nothing before the confirm
    click = await world.alice.click(r.response, label="Import")
    assert "Imported: 5 steps updated" in embed_text(click)
    assert "**3/80**" in embed_text(click)
    assert await snapshot(env, world, world.alice) == before

    r = await world.alice.slash(world.channel, "data import", file=("again.md", data))
    assert "matches your progress already" in r.response.content


async def test_undo_takes_back_a_whole_import(env: simcord.Env, world: World) -> None:
    await seed_alice(env, world)
    await world.alice.slash(world.channel, "data forget")  # not confirmed: still there
    assert len(await snapshot(env, world, world.alice)) == 5
    _, empty = await export(world, world.bob)
    r = await world.alice.slash(world.channel, "data import", file=("empty.md", empty))
    assert "Back to not started: 5" in embed_text(r)
    await world.alice.click(r.response, label="Import")
    assert await snapshot(env, world, world.alice) == {}
    r = await world.alice.slash(world.channel, "undo")
    assert "Undid your last change (5 steps)" in embed_text(r)
    assert len(await snapshot(env, world, world.alice)) == 5


async def test_import_cancel_and_timeout_change_nothing(env: simcord.Env, world: World) -> None:
    await world.bob.slash(world.channel, "done")
    _, data = await export(world, world.bob)
    r = await world.alice.slash(world.channel, "data import", file=("bob.md", data))
    click = await world.alice.click(r.response, label="Cancel")
    assert click.response.content == "Cancelled: nothing changed."
    assert button_labels(click.response) == []
    r = await world.alice.slash(world.channel, "data import", file=("bob.md", data))
    await env.advance_time(301)
    assert "expired: nothing changed" in r.response.content
    assert button_labels(r.response) == []
    r = await world.alice.slash(world.channel, "data forget")
    await world.alice.click(r.response, label="Cancel")
    assert await snapshot(env, world, world.alice) == {}
    assert await history_depth(env.bot.db, world.guild.id, world.alice.id) == (0, 0)


async def test_only_the_caller_can_see_and_press_the_confirm_buttons(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "done")
    r = await world.alice.slash(world.channel, "data forget")
    with pytest.raises(simcord.SetupError, match="not visible to this user"):
        await world.bob.click(r.response, label="Delete my data")
    assert await snapshot(env, world, world.alice) != {}


@pytest.mark.parametrize(("name", "data", "fragment"), [
    ("notes.md", b"# My notes\n\nJust some thoughts about Python.\n", "not part of a progress checklist"),
    ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8"),
    ("other-plan.md", b"- [x] 120. Kubernetes operators (Write one)\n", "there is no step 120"),
    ("renamed.md", b"- [x] 1. Learn Rust (Write a CLI)\n", "step 1 is “Understand"),
    ("huge.md", b"- [ ] " * 60_000, "at most 256 KB"),
    ("empty.md", b"", "no step line"),
])
async def test_import_refuses_files_that_are_not_a_checklist_for_this_plan(
        env: simcord.Env, world: World, name: str, data: bytes, fragment: str) -> None:
    await world.alice.slash(world.channel, "done")
    before = await snapshot(env, world, world.alice)
    r = await world.alice.slash(world.channel, "data import", file=(name, data))
    assert_user_error(env, r, fragment)
    assert r.response.components == []
    assert await snapshot(env, world, world.alice) == before


async def test_privacy(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "done")
    r = await world.alice.slash(world.channel, "data privacy", visible=False)
    assert r.ephemeral
    assert "You are **hidden**" in r.response.content
    r = await world.alice.slash(world.channel, "data privacy", visible=False)
    assert "already your choice" in r.response.content
    r = await world.bob.slash(world.channel, "progress", member=world.alice)
    assert_user_error(env, r, "keeps their progress private")
    r = await world.alice.slash(world.channel, "data privacy", visible=True)
    assert "You are **visible**" in r.response.content
    r = await world.bob.slash(world.channel, "progress", member=world.alice)
    assert "**1/80**" in embed_text(r)
    row = await env.bot.db.fetchone(select(members.c.visible).where(members.c.user_id == world.alice.id))
    assert row is not None
    assert row[0] == 1


async def test_privacy_choice_survives_forget_as_default_visible(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "data privacy", visible=False)
    r = await world.alice.slash(world.channel, "data forget")
    await world.alice.click(r.response, label="Delete my data")
    assert (await load_member(env.bot.db, world.guild.id, world.alice.id)).visible


async def test_forget_also_deletes_reminders_and_their_history(env: simcord.Env, world: World) -> None:
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="Europe/Berlin")
    await world.bob.slash(world.channel, "remind set", time="10:00")
    await env.bot.run_scheduled(datetime(2026, 1, 1, 8, 0, 30, tzinfo=UTC))  # alice's first reminder goes out
    assert await env.bot.db.fetchone(select(reminder_sends).where(reminder_sends.c.user_id == world.alice.id))
    r = await world.alice.slash(world.channel, "data forget")
    await world.alice.click(r.response, label="Delete my data")
    for table in (reminders, reminder_sends, members, progress, history, period_counts):
        row = await env.bot.db.fetchone(select(func.count()).select_from(table)
                                        .where(table.c.user_id == world.alice.id))
        assert row[0] == 0, table.name
    status = await world.alice.slash(world.channel, "remind status")
    assert "/remind set" in status.response.content or "/remind set" in embed_text(status)
    assert await env.bot.db.fetchone(select(reminders).where(reminders.c.user_id == world.bob.id))


def tick(data: bytes, step: int) -> bytes:
    """The export with step `step`'s box ticked, as a member would edit it."""
    text = data.decode()
    lines = [line.replace("- [ ]", "- [x]", 1) if line.startswith(f"- [ ] {step}. ") else line
             for line in text.splitlines()]
    assert lines != text.splitlines(), f"step {step} is not an open box in the file"
    return ("\n".join(lines) + "\n").encode()


async def test_import_applies_only_what_its_preview_showed(env: simcord.Env, world: World) -> None:
    """Issue 8 §5, the exact scenario (failed before: pressing Import applied the whole file, resetting step 7)."""
    _, data = await export(world)
    r = await world.alice.slash(world.channel, "data import", file=("edited.md", tick(data, 5)))
    text = embed_text(r)
    assert "would change **1** of your steps" in text
    assert "Marked done: 1" in text
    assert "Steps 5" in text
    await world.alice.slash(world.channel, "done", step=7)
    click = await world.alice.click(r.response, label="Import")
    assert "Imported: 1 step updated" in embed_text(click)
    after = await snapshot(env, world, world.alice)
    assert after[5][0] is Status.DONE
    assert after[7][0] is Status.DONE  # not silently reset to not started
    assert "**2/80**" in embed_text(click)
    undone = await world.alice.slash(world.channel, "undo")  # /undo takes back just the import
    assert "Undid your last change (1 step)" in embed_text(undone)
    assert set(await snapshot(env, world, world.alice)) == {7}


async def test_import_asks_again_when_a_previewed_step_changed_since(env: simcord.Env, world: World) -> None:
    """A previewed step changed between preview and Import: nothing is applied, the new difference is shown and
    confirmed again (failed before: the file silently overwrote the newer change)."""
    _, data = await export(world)
    r = await world.alice.slash(world.channel, "data import", file=("edited.md", tick(data, 5)))
    await world.alice.slash(world.channel, "skip", step=5)
    await world.alice.slash(world.channel, "done", step=7)
    click = await world.alice.click(r.response, label="Import")
    assert click.response.ephemeral  # the same ephemeral message, updated
    assert "changed since this preview, so nothing was imported yet" in click.response.content
    text = embed_text(click)
    assert "would change **2** of your steps" in text
    assert "Marked done: 1" in text  # step 5, and step 7 back to not started: what the file says now
    assert "Back to not started: 1" in text
    assert button_labels(click.response) == ["Import", "Cancel"]
    assert {n: s[0] for n, s in (await snapshot(env, world, world.alice)).items()} == {
        5: Status.SKIPPED, 7: Status.DONE}
    again = await world.alice.click(click.response, label="Import")
    assert "Imported: 2 steps updated" in embed_text(again)
    assert {n: s[0] for n, s in (await snapshot(env, world, world.alice)).items()} == {5: Status.DONE}


async def test_import_says_so_when_progress_now_matches_the_file(env: simcord.Env, world: World) -> None:
    _, data = await export(world)
    r = await world.alice.slash(world.channel, "data import", file=("edited.md", tick(data, 5)))
    await world.alice.slash(world.channel, "done", step=5)
    before = await snapshot(env, world, world.alice)
    click = await world.alice.click(r.response, label="Import")
    assert "now matches that file (80 steps): nothing to import" in click.response.content
    assert button_labels(click.response) == []
    assert await snapshot(env, world, world.alice) == before
