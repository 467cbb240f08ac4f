"""Issue 11 under hostile use (SimCord): plans whose texts are Markdown, links and mentions, admins racing each
other and the store, buttons that outlive what they were made for, stored plans that no longer parse.

Most tests here failed before the fix committed with them (`git log` names them); the others pin down
behaviour that held up under the same attack."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import discord
import pytest
import simcord
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from db import tracks as tracks_db
from db.community import get_settings
from db.progress import load_member
from db.tables import plans
from tests.community_support import add_admin, bot_of, mark_done
from tests.conftest import World
from tests.helpers import assert_user_error, dms, embed_text, labels, message_text, tick
from tests.store_faults import refuse_writes

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BACKEND = "Backend Learning Plan"

# Text an admin may put in a plan: none of it may render as Markdown, a masked link or a mention.
LOUD = "**Bold** [free nitro](https://evil.example) @everyone <@123456789012345678> `tick` __under__"
RAW = ("**Bold**", "@everyone", "<@123456789012345678>", "`tick`", "__under__")
LIVE_LINK = re.compile(r"(?<!\\)\[free nitro\]\(")  # a masked link unless its `[` is escaped


def loud_plan() -> bytes:
    return (f"# {LOUD} plan\n\n## {LOUD} phase\n"
            + "".join(f"- [ ] {i}. {LOUD} {i} (Do {LOUD} {i})\n" for i in range(1, 4))).encode()


def assert_inert(text: str, where: str) -> None:
    """`text` (what Discord renders as Markdown) holds none of the raw pieces: each shows as text."""
    for raw in RAW:
        assert raw not in text, f"{where}: {raw!r} is live in {text!r}"
    assert LIVE_LINK.search(text) is None, f"{where}: a masked link is live in {text!r}"


def rendered(message: simcord.ResponseMessage | discord.Message) -> str:
    """What Discord reads as Markdown in a message: content, embed titles, descriptions, field names and values
    (footers and author names are plain text, so they are left out)."""
    parts: list[str] = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.title or "", embed.description or ""]
        parts += [f"{f.name}\n{f.value}" for f in embed.fields]
    return "\n".join(parts)


@pytest.fixture
async def admin(env: simcord.Env, world: World) -> simcord.MemberActor:
    member = add_admin(env, world)
    await env.settle()
    return member


async def upload(admin: simcord.MemberActor, world: World, data: bytes,
                 name: str = "Loud") -> simcord.InteractionResult:
    return await admin.slash(world.channel, "config plan upload", file=("plan.md", data), name=name)


async def test_plan_texts_are_shown_as_text_everywhere(env: simcord.Env, world: World,
                                                       admin: simcord.MemberActor) -> None:
    shown = await upload(admin, world, loud_plan())
    assert_inert(rendered(shown.response), "the preview")
    await admin.click(shown.response, label="Confirm")
    hall = world.guild.create_text_channel("hall")
    await admin.slash(world.channel, "config milestones", channel=hall)
    alice, bob = world.alice, world.bob
    for member in (alice, bob):
        await member.slash(world.channel, "track join", name="Loud")
    replies = {
        "/plan step": await alice.slash(world.channel, "plan step", number=1),
        "/plan next": await alice.slash(world.channel, "plan next"),
        "/plan overview": await alice.slash(world.channel, "plan overview"),
        "/plan search": await alice.slash(world.channel, "plan search", query="bold"),
        "/track list": await alice.slash(world.channel, "track list"),
        "/start": await alice.slash(world.channel, "start", step=1),
        "/skip": await alice.slash(world.channel, "skip", step=3),
    }
    await bob.slash(world.channel, "done")
    replies["/buddies"] = await alice.slash(world.channel, "buddies", step=2)
    replies["/done"] = await alice.slash(world.channel, "done")
    for where, result in replies.items():
        assert result.response is not None, where
        assert_inert(rendered(result.response), where)
    assert "Bold" in embed_text(replies["/plan step"])  # shown, as text

    await alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await tick(env, datetime(2026, 1, 2, 9, tzinfo=UTC))
    [dm] = dms(alice)
    assert "Bold" in message_text(dm)
    assert_inert(rendered(dm), "the reminder DM")
    pressed = await alice.user.click(dm, label="Mark done")
    assert pressed.response is not None
    assert_inert(rendered(pressed.response), "the reminder DM after Mark done")
    for _ in range(2):
        await bob.slash(world.channel, "done")  # bob finishes the phase and the plan
    [announcement] = [m for m in hall.history() if m.author.bot]
    assert "Bold" in announcement.content
    assert_inert(rendered(announcement), "the milestone announcement")


async def test_an_unknown_track_name_and_the_tracks_listed_are_shown_as_text(env: simcord.Env, world: World,
                                                                            admin: simcord.MemberActor) -> None:
    await admin.click((await upload(admin, world, loud_plan(), name="**Loud** @everyone")).response,
                      label="Confirm")
    refused = await world.alice.slash(world.channel, "track join", name="`tick` <@123456789012345678>")
    assert_user_error(env, refused, "There is no track called", "Loud")
    assert_inert(refused.response.content, "the unknown track's answer")
    refused = await admin.slash(world.channel, "config plan default", name="[free nitro](https://evil.example)")
    assert_user_error(env, refused, "There is no track called")
    assert_inert(refused.response.content, "the unknown track's answer")


# ---------------------------------------------------------------------------------------------- scheduled posts


def small_plan(title: str, steps: int) -> str:
    return f"# {title}\n" + "".join(f"- [ ] {i}. {title} topic {i} (Exercise {i})\n" for i in range(1, steps + 1))


async def test_a_scheduled_post_with_ten_full_boards_stays_within_discords_limits(env: simcord.Env, world: World,
                                                                                  admin: simcord.MemberActor) -> None:
    """The most plans a server may have, each with a full board of members with 32-character names: one message
    of at most 10 embeds and 6,000 characters in all (Discord refuses a bigger one, and the slot is lost)."""
    bot = bot_of(env)
    g = world.guild.id
    tracks = [bot.tracks.bundled]
    for index in range(10):
        name = f"Track {index} " + "x" * 40  # 50 characters, the longest name a plan may have
        row = await tracks_db.add_plan(bot.db, g, name=name, title=name, steps=500, source=small_plan(name, 500),
                                       now=T0, by=None, limit=10)
        track = await bot.tracks.get(g, row.plan_id)
        assert track is not None
        tracks.append(track)
    for t, track in enumerate(tracks):
        for i in range(11):
            member = world.guild.add_member(env.create_user(f"{t:02d}{i:02d}" + "w" * 28))  # 32 characters
            await bot.tracks.switch(g, member.id, track, T0, default_tz=bot.settings.tz)
            await mark_done(env, g, member.id, range(1, 200 + t * 10 + i), T0 - timedelta(days=1))
            await mark_done(env, g, member.id, [300 + i], T0)  # a mover this week too
    await env.settle()
    board = world.guild.create_text_channel("leaderboard")
    await admin.slash(world.channel, "config leaderboard", channel=board, schedule="daily", time="18:00")
    await tick(env, datetime(2026, 1, 1, 18, tzinfo=UTC))
    [post] = [m for m in board.history() if m.author.bot]
    assert 2 <= len(post.embeds) <= 10
    assert sum(len(e) for e in post.embeds) <= 6000
    assert "Track 0" in message_text(post)
    shown = sum(1 for e in post.embeds if (e.title or "").startswith("Track: "))
    assert f"{10 - shown} more track" in (post.embeds[-1].footer.text or "")  # the ones left out are counted
    settings = await get_settings(bot.db, g)
    assert "leaderboard_post" not in settings.failures


# ---------------------------------------------------------------------------------------------- Confirm


FRONTEND = b"# Frontend\n## Basics\n" + b"".join(b"- [ ] %d. Page %d (Build page %d)\n" % (i, i, i)
                                            for i in range(1, 7))


async def test_confirm_while_the_database_refuses_writes_stores_nothing_and_can_be_pressed_again(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    bot = bot_of(env)
    shown = await upload(admin, world, FRONTEND, name="Frontend")
    await refuse_writes(bot.db)
    try:
        failed = await admin.click(shown.response, label="Confirm")
    finally:
        await refuse_writes(bot.db, on=False)
    assert failed.response is not None, "Confirm was not answered"
    assert failed.ephemeral
    assert "Something went wrong on my side" in failed.response.content
    simcord.assert_error(env, DBAPIError)
    assert await tracks_db.list_plans(bot.db, world.guild.id, removed=True) == []  # nothing half stored
    again = await admin.click(shown.response, label="Confirm")
    assert again.response is not None, "the preview's Confirm went dead after one failure"
    assert "is a track now: 6 steps" in again.response.content
    [row] = await tracks_db.list_plans(bot.db, world.guild.id)
    assert (row.name, row.version) == ("Frontend", 1)



# ---------------------------------------------------------------------------------------------- odd stored data


async def damage_plan(env: simcord.Env, world: World) -> None:
    """The stored Markdown of the server's plans no longer parses (edited by hand, or stored by older code);
    the bot restarts, so nothing of it is cached."""
    async with bot_of(env).db.transaction() as conn:
        await conn.execute(update(plans).where(plans.c.guild_id == world.guild.id)
                           .values(source="this is not a plan any more"))
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]


async def on_damaged_track(env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    await admin.click((await upload(admin, world, FRONTEND, name="Frontend")).response, label="Confirm")
    await world.alice.slash(world.channel, "track join", name="Frontend")
    for _ in range(2):
        await world.alice.slash(world.channel, "done")
    await world.bob.slash(world.channel, "done")  # bob stays on the bundled plan
    await world.alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await damage_plan(env, world)


async def test_members_on_a_plan_that_no_longer_parses_are_told_and_nothing_is_mixed_up(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    await on_damaged_track(env, world, admin)
    bot = bot_of(env)
    alice, bob = world.alice, world.bob
    before = await load_member(bot.db, world.guild.id, alice.id)
    assert set(before.done) == {1, 2}
    for command, options in [("done", {}), ("done", {"step": 3}), ("skip", {"step": 4}), ("plan next", {}),
                             ("plan step", {"number": 1}), ("progress", {}), ("buddies", {}), ("data export", {}),
                             ("leaderboard", {})]:
        refused = await alice.slash(world.channel, command, **options)
        assert_user_error(env, refused, "Your track **Frontend** can't be read right now", "/track switch")
    after = await load_member(bot.db, world.guild.id, alice.id)
    assert after.states == before.states  # nothing marked as another plan's step
    listed = await alice.slash(world.channel, "track list")
    assert "can't be read right now" in (listed.response.embeds[0].description or "")
    assert not any(f.name.startswith("➡️") for f in listed.response.embeds[0].fields)
    helped = await alice.slash(world.channel, "help")
    assert helped.response is not None
    other = await alice.slash(world.channel, "leaderboard", track=BACKEND)
    assert "You follow **Frontend**" in embed_text(other)
    seen = await bob.slash(world.channel, "progress", member=alice)
    assert_user_error(env, seen, "can't be read right now")
    await tick(env, datetime(2026, 1, 2, 9, tzinfo=UTC))
    [dm] = dms(alice)  # the reminder says what is wrong; it names no step of another plan, and is not paused
    assert "Your track **Frontend** can't be read right now" in message_text(dm)
    assert "Mark done" not in labels(dm)
    assert "1. Understand" not in message_text(dm)
    status = await alice.slash(world.channel, "remind status")
    assert "Paused" not in embed_text(status)
    # nobody else is affected
    done = await bob.slash(world.channel, "done")
    assert "Step 2 done" in embed_text(done)
    assert "**2/80**" in embed_text(await bob.slash(world.channel, "progress"))
    # and alice can still leave it: her progress on it is kept
    moved = await alice.slash(world.channel, "track switch", name=BACKEND)
    assert "Your progress on **Frontend** is kept" in embed_text(moved)
    assert (await load_member(bot.db, world.guild.id, alice.id)).states == {}


async def test_an_admin_sees_a_damaged_plan_and_repairs_it_by_uploading_it_again(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    await on_damaged_track(env, world, admin)
    listing = await admin.slash(world.channel, "config plan list")
    fields = {f.name: f.value for f in listing.response.embeds[0].fields}
    assert "can't be read" in fields["Frontend"]
    shown = await upload(admin, world, FRONTEND, name="frontend")
    assert shown.response.embeds[0].title == "Repair “Frontend” with version 2?"
    stored = await admin.click(shown.response, label="Confirm")
    assert "**Frontend** is at version 2: 6 steps" in stored.response.content
    card = await world.alice.slash(world.channel, "progress")
    assert "**2/6**" in embed_text(card)  # her progress came through the damage
    assert len(await tracks_db.list_plans(bot_of(env).db, world.guild.id)) == 1


async def test_an_admin_removes_a_damaged_plan_and_its_members_move_with_their_progress_kept(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    await on_damaged_track(env, world, admin)
    asked = await admin.slash(world.channel, "config plan remove", name="Frontend")
    assert "**1** member follow **Frontend**" in asked.response.content
    gone = await admin.click(asked.response, label="Remove Frontend")
    assert "1 member moved to **Backend Learning Plan**" in gone.response.content
    card = await world.alice.slash(world.channel, "progress")
    assert card.response is not None
    assert "0/80" in embed_text(card)
    bot = bot_of(env)
    assert await tracks_db.list_plans(bot.db, world.guild.id) == []
    assert (await tracks_db.parked_done(bot.db, world.guild.id, world.alice.id))[1] == {1, 2}


# ---------------------------------------------------------------------------------------------- names


@pytest.mark.parametrize("same", ["FRONTEND", "  frontend ", "Ｆｒｏｎｔｅｎｄ", "Front\u200bend",
                                  "\u2060Frontend\ufeff"])
async def test_a_name_differing_only_by_case_width_or_invisible_characters_is_the_same_plan(
        env: simcord.Env, world: World, admin: simcord.MemberActor, same: str) -> None:
    await admin.click((await upload(admin, world, FRONTEND, name="Frontend")).response, label="Confirm")
    again = await upload(admin, world, FRONTEND.replace(b"Page 6", b"Page six"), name=same)
    assert again.response.embeds[0].title == "Update “Frontend” to version 2?"
    joined = await world.alice.slash(world.channel, "track join", name=same)
    assert "You joined Frontend" in embed_text(joined)
    assert len(await tracks_db.list_plans(bot_of(env).db, world.guild.id)) == 1


@pytest.mark.parametrize("name", ["\u202eDNETNORF", "Front\u2066end\u2069", "Backend Learning\u200b Plan",
                                  "\u200b\u200b"])
async def test_names_that_display_as_something_else_or_as_nothing_are_refused(
        env: simcord.Env, world: World, admin: simcord.MemberActor, name: str) -> None:
    refused = await upload(admin, world, FRONTEND, name=name)
    assert refused.ephemeral
    assert refused.response.embeds == []  # no preview, nothing to confirm
    assert await tracks_db.list_plans(bot_of(env).db, world.guild.id) == []
    env.errors.clear()


# ---------------------------------------------------------------------------------------------- Discord's limits


async def test_search_results_with_the_longest_texts_a_plan_may_have_fit_one_embed(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    """Titles of 200 and exercises of 1,000 characters (the most an upload allows): eight results are more than
    Discord's 6,000 characters for an embed, so each is shortened; the member got an error before."""
    text = "# Long\n" + "".join(f"- [ ] {i}. Word {i} {'t' * 190} (Word {'e' * 990})\n" for i in range(1, 11))
    await admin.click((await upload(admin, world, text.encode(), name="Long")).response, label="Confirm")
    await world.alice.slash(world.channel, "track join", name="Long")
    found = await world.alice.slash(world.channel, "plan search", query="word")
    assert found.response is not None
    assert found.response.embeds[0].title == "10 steps match “word”"
    assert len(found.response.embeds[0].fields) == 8
    assert sum(len(e) for e in found.response.embeds) <= 6000
    second = await world.alice.click(found.response.message, label="Next ▶")
    assert [f.name.split(" · ")[0] for f in second.response.embeds[0].fields] == ["Step 9", "Step 10"]


# ---------------------------------------------------------------------------------------------- two admins at once


async def test_removing_a_track_whose_members_would_move_to_a_track_removed_meanwhile(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    """Frontend's members would move to Data, the default; another admin removes Data before Confirm: they must
    not be moved onto a removed track."""
    other = add_admin(env, world, "grace")
    await env.settle()
    await admin.click((await upload(admin, world, FRONTEND, name="Frontend")).response, label="Confirm")
    await admin.click((await upload(admin, world, small_plan("Data", 4).encode(), name="Data")).response,
                      label="Confirm")
    await admin.slash(world.channel, "config plan default", name="Data")
    await world.alice.slash(world.channel, "track join", name="Frontend")
    await world.alice.slash(world.channel, "done")
    asked = await admin.slash(world.channel, "config plan remove", name="Frontend")
    assert "moves them to **Data**" in asked.response.content
    gone = await other.slash(world.channel, "config plan remove", name="Data")  # nobody follows Data
    assert "is removed; nobody followed it" in gone.response.content
    refused = await admin.click(asked.response, label="Remove Frontend")
    assert_user_error(env, refused, "would move to was removed meanwhile, so nothing was changed")
    card = await world.alice.slash(world.channel, "progress")
    assert "alice's progress · Frontend" in embed_text(card)  # still on Frontend, not on the removed Data
    again = await admin.slash(world.channel, "config plan remove", name="Frontend")
    assert "moves them to **Backend Learning Plan**" in again.response.content
    await admin.click(again.response, label="Remove Frontend")
    assert "No steps marked yet: 0/80" in embed_text(await world.alice.slash(world.channel, "progress"))


async def test_the_previews_confirm_after_a_restart_says_it_was_lost_and_stores_nothing(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    shown = await upload(admin, world, FRONTEND, name="Frontend")
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    pressed = await admin.click(shown.response, label="Confirm")
    assert pressed.response is not None, "the press after a restart was not answered"
    assert "lost when I restarted, so nothing changed" in pressed.response.content
    assert pressed.response.components == []  # the dead buttons are gone
    assert await tracks_db.list_plans(bot_of(env).db, world.guild.id) == []
    fresh = await upload(admin, world, FRONTEND, name="Frontend")  # a confirmation of this run still works
    assert "is a track now" in (await admin.click(fresh.response, label="Confirm")).response.content


# ---------------------------------------------------------------------------------------------- stale buttons


async def test_a_reminders_mark_done_after_switching_tracks_or_after_its_step_was_removed(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    await admin.click((await upload(admin, world, FRONTEND, name="Frontend")).response, label="Confirm")
    alice = world.alice
    await alice.slash(world.channel, "track join", name="Frontend")
    for _ in range(5):
        await alice.slash(world.channel, "done")
    await alice.slash(world.channel, "remind set", time="09:00", timezone="UTC")
    await tick(env, datetime(2026, 1, 2, 9, tzinfo=UTC))
    [dm] = dms(alice)
    assert "step 6. Page 6" in message_text(dm)
    await alice.slash(world.channel, "track switch", name=BACKEND)
    stale = await alice.user.click(dm, label="Mark done")
    assert "This reminder was for another track" in stale.response.content
    assert (await load_member(bot_of(env).db, world.guild.id, alice.id)).states == {}  # nothing marked on bundled
    await alice.slash(world.channel, "track switch", name="Frontend")
    shorter = await upload(admin, world, FRONTEND.replace(b"- [ ] 6. Page 6 (Build page 6)\n", b""), name="Frontend")
    await admin.click(shorter.response, label="Confirm")  # step 6 is gone: alice has finished
    gone = await alice.user.click(dm, label="Mark done")
    assert "Step 6 is no longer in the plan" in gone.response.content
    card = await alice.slash(world.channel, "progress")
    assert "**5/5**" in embed_text(card)


async def test_completing_every_phase_of_a_500_phase_plan_at_once_is_announced(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    """An import (or a burst of /done) can complete every phase of an uploaded plan at once: 500 phase numbers
    passed Discord's 2,000 characters for a message, and the announcement was refused."""
    text = "# Many\n" + "".join(f"## Phase {i}\n- [ ] {i}. Step {i} (Do {i})\n" for i in range(1, 501))
    await admin.click((await upload(admin, world, text.encode(), name="Many")).response, label="Confirm")
    hall = world.guild.create_text_channel("hall")
    await admin.slash(world.channel, "config milestones", channel=hall)
    await world.alice.slash(world.channel, "track join", name="Many")
    skipped = [2, 7, 9]  # not done: phases 2, 7 and 9 are not completed
    await mark_done(env, world.guild.id, world.alice.id, [n for n in range(1, 501) if n not in skipped], T0,
                    dispatch=True)
    [announcement] = [m for m in hall.history() if m.author.bot]
    assert "completed 497 phases of **Many** at once: 1, 3–6, 8, 10–500!" in announcement.content
    assert "milestone_post" not in (await get_settings(bot_of(env).db, world.guild.id)).failures


async def test_an_update_confirmed_after_another_admin_updated_then_removed_the_plan(
        env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    other = add_admin(env, world, "grace")
    await env.settle()
    await admin.click((await upload(admin, world, FRONTEND, name="Frontend")).response, label="Confirm")
    mine = await upload(admin, world, FRONTEND.replace(b"Page 1 ", b"Page one "), name="Frontend")
    theirs = await upload(other, world, FRONTEND.replace(b"Page 2 ", b"Page two "), name="Frontend")
    await other.click(theirs.response, label="Confirm")
    late = await admin.click(mine.response, label="Confirm")
    assert_user_error(env, late, "Someone updated that plan meanwhile (it is at version 2 now)")
    gone = await other.slash(world.channel, "config plan remove", name="Frontend")
    assert "is removed; nobody followed it" in gone.response.content
    later = await admin.click(mine.response, label="Confirm")  # the buttons stay after a refusal
    assert_user_error(env, later, "That plan was removed meanwhile; nothing was changed.")
    assert await tracks_db.list_plans(bot_of(env).db, world.guild.id) == []
    [row] = await tracks_db.list_plans(bot_of(env).db, world.guild.id, removed=True)
    assert (row.version, "Page two" in row.source, "Page one" in row.source) == (2, True, False)
