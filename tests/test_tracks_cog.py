"""Tracks as members use them (issue 11), in SimCord: a server with an uploaded plan beside the bundled one,
members joining and switching tracks and back with their progress intact, every member command following the
member's track, leaderboards per track and across tracks (scope:all, checked against a ranking computed here),
exports that name their plan, and buttons made before a switch that refuse to act on the other plan."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import simcord

from bot.app import StepwiseBot
from bot.domain.export import format_export
from bot.domain.progress import Status
from bot.domain.tracks import Track
from db import tracks as tracks_db
from db.progress import StepChange, apply_changes, load_member, set_visible
from tests.conftest import World
from tests.helpers import assert_user_error, bot_of, button_labels, embed_text

T0 = datetime(2026, 1, 1, tzinfo=UTC)  # SimCord's clock starts here
BACKEND = "Backend Learning Plan"
FRONTEND_STEPS = [
    ("Basics", [("HTML structure", "Build a page about yourself"), ("CSS selectors", "Style the page"),
                ("The box model", "Lay out a card"), ("Flexbox", "Build a navbar"), ("Grid", "Build a gallery"),
                ("Responsive design", "Make the gallery work on a phone")]),
    ("JavaScript", [("DOM basics", "Toggle a menu"), ("Events", "Build a counter"),
                    ("Fetch", "Show a list from an API"), ("Forms", "Validate a sign-up form"),
                    ("Components", "Split the page into components"), ("Deploy a static site", "Publish it")]),
]


def frontend_text() -> str:
    lines, n = ["# Frontend Track", ""], 0
    for phase, steps in FRONTEND_STEPS:
        lines += [f"## {phase}", ""]
        for title, exercise in steps:
            n += 1
            lines.append(f"- [ ] {n}. {title} ({exercise})")
        lines.append("")
    return "\n".join(lines)


def small_plan(title: str, n: int) -> str:
    return f"# {title}\n" + "".join(f"- [ ] {i}. {title} topic {i} (Exercise {i})\n" for i in range(1, n + 1))


async def upload(env: simcord.Env, world: World, name: str, text: str, steps: int) -> Track:
    """An admin's plan, stored as `/config plan upload` will store it (that command is the lead's)."""
    bot = bot_of(env)
    title = text.splitlines()[0].removeprefix("# ")
    row = await tracks_db.add_plan(bot.db, world.guild.id, name=name, title=title, steps=steps, source=text, now=T0,
                                   by=None, limit=10)
    track = await bot.tracks.get(world.guild.id, row.plan_id)
    assert track is not None
    return track


async def frontend(env: simcord.Env, world: World) -> Track:
    return await upload(env, world, "Frontend", frontend_text(), 12)


async def put_on(env: simcord.Env, world: World, user_id: int, track: Track) -> None:
    bot = bot_of(env)
    await bot.tracks.switch(world.guild.id, user_id, track, T0, default_tz=bot.settings.tz)


async def mark(env: simcord.Env, world: World, user_id: int, steps: Iterable[int], at: datetime) -> datetime:
    """Steps done at `at`, a minute apart, on the member's current track; returns when the last was done."""
    bot = bot_of(env)
    numbers = list(steps)
    changes = [StepChange(n, Status.DONE, done_at=at + timedelta(minutes=i)) for i, n in enumerate(numbers)]
    await apply_changes(bot.db, world.guild.id, user_id, changes, at, default_tz=bot.settings.tz)
    return at + timedelta(minutes=len(numbers) - 1)


def assert_answered(result: simcord.InteractionResult, fragment: str) -> None:
    """A button's refusal: one ephemeral message (buttons answer through bot.tree.answer_error themselves)."""
    assert result.response is not None
    assert result.ephemeral
    assert fragment in result.response.content, result.response.content


def lines(result: simcord.InteractionResult) -> list[str]:
    assert result.response is not None
    return (result.response.embeds[0].description or "").splitlines()


def field(result: simcord.InteractionResult, name: str) -> str:
    assert result.response is not None
    return {f.name: f.value for f in result.response.embeds[0].fields}[name]


# ---------------------------------------------------------------------------------------------- /track


async def test_join_switch_and_back_keep_progress_on_each_track(env: simcord.Env, world: World) -> None:
    await frontend(env, world)
    alice = world.alice
    await alice.slash(world.channel, "done")
    await alice.slash(world.channel, "done")  # steps 1 and 2 of the bundled plan
    joined = await alice.slash(world.channel, "track join", name="frontend")  # case ignored
    assert joined.ephemeral
    text = embed_text(joined)
    assert "You joined Frontend" in text
    assert "**0/12** steps done" in text
    assert "Next: **1. HTML structure** · Build a page about yourself" in text
    assert f"Your progress on **{BACKEND}** is kept" in text

    done = await alice.slash(world.channel, "done", note="my page")
    assert "Step 1 done: HTML structure" in embed_text(done)
    assert "**1/12** steps done (8%)" in embed_text(done)
    card = await alice.slash(world.channel, "progress")
    assert card.response.embeds[0].title == "alice's progress · Frontend"
    assert "**1/12** steps done (8%)" in embed_text(card)

    back = await alice.slash(world.channel, "track switch", name=BACKEND)
    assert f"You switched to {BACKEND}" in embed_text(back)
    assert "**2/80** steps done" in embed_text(back)
    assert "Next: **3. Learn REST API concepts**" in embed_text(back)
    assert "Your progress on **Frontend** is kept" in embed_text(back)
    card = await alice.slash(world.channel, "progress")
    assert card.response.embeds[0].title == f"alice's progress · {BACKEND}"
    assert "**2/80** steps done (2%)" in embed_text(card)

    again = await alice.slash(world.channel, "track switch", name="Frontend")
    assert "**1/12** steps done" in embed_text(again)
    member = await load_member(env.bot.db, world.guild.id, alice.id)
    assert {n: (s.status, s.note) for n, s in member.states.items()} == {1: (Status.DONE, "my page")}
    same = await alice.slash(world.channel, "track switch", name="Frontend")
    assert same.ephemeral
    assert "You are on **Frontend** already; nothing changed" in same.response.content


async def test_track_list_shows_progress_followers_and_yours(env: simcord.Env, world: World) -> None:
    await frontend(env, world)
    await world.bob.slash(world.channel, "done")
    await world.alice.slash(world.channel, "track join", name="Frontend")
    for _ in range(3):
        await world.alice.slash(world.channel, "done")
    result = await world.alice.slash(world.channel, "track list")
    assert result.ephemeral
    assert result.response.embeds[0].title == "Tracks in this server"
    assert "You are on **Frontend**" in result.response.embeds[0].description
    fields = {f.name: f.value for f in result.response.embeds[0].fields}
    assert list(fields) == [BACKEND, "➡️ Frontend"]
    assert fields[BACKEND].startswith("**0/80** steps done (0%)")
    assert "1 member on it" in fields[BACKEND]  # bob
    assert fields["➡️ Frontend"].startswith("**3/12** steps done (25%)")
    assert "1 member on it · Frontend Track · **your track**" in fields["➡️ Frontend"]


async def test_unknown_track_names_the_tracks_there_are(env: simcord.Env, world: World) -> None:
    await frontend(env, world)
    result = await world.alice.slash(world.channel, "track join", name="Nope")
    assert_user_error(env, result, "There is no track called “Nope” here", f"**{BACKEND}**, **Frontend**")


async def test_track_names_autocomplete_with_their_step_counts(env: simcord.Env, world: World) -> None:
    await frontend(env, world)
    await upload(env, world, "Data science", small_plan("Data", 5), 5)
    everything = await world.alice.autocomplete(world.channel, "track join", "name", "")
    assert everything == [{"name": f"{BACKEND} · 80 steps", "value": BACKEND},
                          {"name": "Frontend · 12 steps", "value": "Frontend"},
                          {"name": "Data science · 5 steps", "value": "Data science"}]
    assert [c["value"] for c in await world.alice.autocomplete(world.channel, "track switch", "name", "FRO")] \
        == ["Frontend"]
    assert [c["value"] for c in await world.alice.autocomplete(world.channel, "track join", "name", "en")] \
        == [BACKEND, "Frontend", "Data science"]  # "en" is in each name
    assert [c["value"] for c in await world.alice.autocomplete(world.channel, "leaderboard", "track", "sci")] \
        == ["Data science"]


async def test_a_track_name_is_shown_as_text(env: simcord.Env, world: World) -> None:
    await upload(env, world, "**Loud** @everyone", small_plan("Loud", 3), 3)
    result = await world.alice.slash(world.channel, "track join", name="**loud** @everyone")
    title = result.response.embeds[0].title
    assert title == "You joined \\*\\*Loud\\*\\* @\u200beveryone"
    listed = embed_text(await world.alice.slash(world.channel, "track list"))
    assert "**Loud**" not in listed.replace("\\*\\*Loud\\*\\*", "")
    assert "@everyone" not in listed


def test_track_commands_are_for_servers_only(env: simcord.Env) -> None:
    group = env.bot.tree.get_command("track")
    assert group is not None
    assert group.guild_only


# ---------------------------------------------------------------------------------------------- the plan commands


async def test_plan_and_progress_commands_use_the_tracks_steps(env: simcord.Env, world: World) -> None:
    await frontend(env, world)
    alice = world.alice
    await alice.slash(world.channel, "track join", name="Frontend")
    step = await alice.slash(world.channel, "plan step", number=4)
    assert step.response.embeds[0].title == "Step 4 of 12: Flexbox"
    assert step.response.embeds[0].footer.text == "Frontend Track"
    following = await alice.slash(world.channel, "plan next")
    assert following.response.embeds[0].title == "Your next step: 1. HTML structure"
    overview = await alice.slash(world.channel, "plan overview")
    assert overview.response.embeds[0].title == "Frontend Track: 12 steps in 2 phases"
    assert button_labels(overview.response) == []  # 2 phases: one page
    found = await alice.slash(world.channel, "plan search", query="gallery")
    assert [f.name for f in found.response.embeds[0].fields] == ["Step 5 · Grid", "Step 6 · Responsive design"]

    for command, options in [("plan step", {"number": 13}), ("done", {"step": 50}), ("skip", {"step": 13}),
                             ("start", {"step": 80}), ("buddies", {"step": 13})]:
        refused = await alice.slash(world.channel, command, **options)
        number = next(iter(options.values()))
        assert_user_error(env, refused, f"There is no step {number}: steps go from 1 to 12.")
    assert (await load_member(env.bot.db, world.guild.id, alice.id)).states == {}

    started = await alice.slash(world.channel, "start", step=7)
    assert "Step 7 in progress: DOM basics" in embed_text(started)
    skipped = await alice.slash(world.channel, "skip", step=2)
    assert "Step 2 skipped: CSS selectors" in embed_text(skipped)
    undone = await alice.slash(world.channel, "undo")
    assert "2. CSS selectors: skipped → not started" in embed_text(undone).replace("\\", "")
    assert "**0/12**" in embed_text(undone)


async def test_step_autocomplete_offers_the_tracks_steps(env: simcord.Env, world: World) -> None:
    await frontend(env, world)
    await world.alice.slash(world.channel, "track join", name="Frontend")
    choices = await world.alice.autocomplete(world.channel, "plan step", "number", "")
    assert [c["name"] for c in choices][:3] == ["1. HTML structure", "2. CSS selectors", "3. The box model"]
    assert len(choices) == 12
    assert await world.alice.autocomplete(world.channel, "done", "step", "flex") == [
        {"name": "4. Flexbox", "value": 4}]
    by_number = await world.alice.autocomplete(world.channel, "buddies", "step", "1")
    assert [c["value"] for c in by_number] == [1, 10, 11, 12]
    # bob is on the bundled plan: its steps
    assert [c["value"] for c in await world.bob.autocomplete(world.channel, "skip", "step", "docker")] == [71]


# ---------------------------------------------------------------------------------------------- leaderboards


async def test_leaderboards_per_track_and_across_tracks_by_share(env: simcord.Env) -> None:
    world = World(env, members=13)
    await env.settle()
    fe = await frontend(env, world)
    data = await upload(env, world, "Data", small_plan("Data", 5), 5)
    bundled = bot_of(env).tracks.bundled
    # (member index, track, steps done); bob7 is hidden, erin10 has nothing done
    seeds = [(0, fe, 2), (1, bundled, 40), (2, fe, 6), (3, fe, 12), (4, fe, 3), (5, data, 4), (6, data, 1),
             (7, data, 5), (8, bundled, 8), (9, bundled, 20), (10, bundled, 0), (11, data, 2), (12, bundled, 80)]
    reached: dict[int, datetime] = {}
    for index, track, done in seeds:
        member = world.members[index]
        await put_on(env, world, member.id, track)
        if done:
            reached[index] = await mark(env, world, member.id, range(1, done + 1),
                                        T0 - timedelta(days=1) + timedelta(hours=index % 5, minutes=index))
    await set_visible(env.bot.db, world.guild.id, world.members[7].id, False, T0)
    alice = world.alice

    own = await alice.slash(world.channel, "leaderboard")
    assert not own.ephemeral
    assert own.response.embeds[0].title == "🏆 Leaderboard · Frontend · All time"
    assert lines(own) == ["🥇 dave · **12** steps", "🥈 carol · **6** steps", "🥉 erin · **3** steps",
                          "`#4` alice · **2** steps ← you"]
    assert field(own, "You") == "You are **#4** of 4 with **2 steps**."
    other = await alice.slash(world.channel, "leaderboard", track=BACKEND)
    assert other.response.embeds[0].title == f"🏆 Leaderboard · {BACKEND} · All time"
    assert lines(other) == ["🥇 alice12 · **80** steps", "🥈 bob · **40** steps", "🥉 dave9 · **20** steps",
                            "`#4` carol8 · **8** steps"]
    assert field(other, "You") == "You follow **Frontend**, so you are not on this board. `/leaderboard` shows " \
                                  "your track's."
    week = await world.members[5].slash(world.channel, "leaderboard", period="week")
    assert week.response.embeds[0].title.startswith("🏆 Leaderboard · Data · This week")
    assert lines(week) == ["🥇 frank · **4** steps ← you", "🥈 frank11 · **2** steps", "🥉 alice6 · **1** step"]

    # scope:all, against a ranking made here: share of the member's own track, then who got there first
    shown = [(i, t, d) for i, t, d in seeds if d and i != 7]
    shown.sort(key=lambda s: (-Fraction(s[2], s[1].plan.total), reached[s[0]], world.members[s[0]].id))
    medals = {1: "🥇", 2: "🥈", 3: "🥉"}
    expected = []
    for rank, (index, track, done) in enumerate(shown, start=1):
        you = " ← you" if index == 0 else ""
        percent = round(100 * done / track.plan.total)
        expected.append(f"{medals.get(rank, f'`#{rank}`')} {world.members[index].user.name} · **{percent}%** "
                        f"({done}/{track.plan.total}) · {track.name}{you}")
    board = await alice.slash(world.channel, "leaderboard", scope="all")
    assert board.response.embeds[0].title == "🏆 Leaderboard · All tracks · by share done"
    assert lines(board) == expected[:10]
    alice_rank = next(r for r, s in enumerate(shown, start=1) if s[0] == 0)
    assert field(board, "You") == f"You are **#{alice_rank}** of 11 with **17%** (2/12) of Frontend."
    assert button_labels(board.response) == ["◀ Previous", "Page 1 of 2", "Next ▶"]
    second = await alice.click(board.response.message, label="Next ▶")
    assert lines(second) == expected[10:]
    # each member's rank as the board counts it is their place in the ranking made here
    for position, (index, _track, _done) in enumerate(shown, start=1):
        mine = await world.members[index].slash(world.channel, "leaderboard", scope="all")
        assert field(mine, "You").startswith(f"You are **#{position}** of 11"), index
    hidden = await world.members[7].slash(world.channel, "leaderboard", scope="all")
    assert field(hidden, "You").startswith("You are hidden from leaderboards")
    idle = await world.members[10].slash(world.channel, "leaderboard", scope="all")
    assert field(idle, "You").startswith("You have no steps done yet")

    refused = await alice.slash(world.channel, "leaderboard", scope="all", period="week")
    assert_user_error(env, refused, "`scope:all` ranks members by the share of their track done, all time")
    refused = await alice.slash(world.channel, "leaderboard", scope="all", track="Data")
    assert_user_error(env, refused, "`scope:all` ranks every track together")


async def test_buddies_are_on_the_same_step_of_the_same_track(env: simcord.Env) -> None:
    world = World(env, members=3)
    await env.settle()
    fe = await frontend(env, world)
    alice, bob, carol = world.members
    for member, track in ((alice, fe), (carol, fe), (bob, bot_of(env).tracks.bundled)):
        await put_on(env, world, member.id, track)
        await mark(env, world, member.id, [1, 2], T0 - timedelta(hours=1))  # all three are on step 3
    found = await alice.slash(world.channel, "buddies")
    assert found.response.embeds[0].title == "Study buddies on step 3: The box model"
    assert found.response.embeds[0].description.splitlines() == ["carol · ⏭️ up next"]
    alone = await bob.slash(world.channel, "buddies")
    assert alone.response.embeds[0].title == "Study buddies on step 3: Learn REST API concepts"
    assert "No one else is on your step yet." in embed_text(alone)
    picked = await bob.slash(world.channel, "buddies", step=3)  # bundled step 3: alice and carol are not there
    assert "No one else is on step 3 yet." in embed_text(picked)


# ---------------------------------------------------------------------------------------------- /data


async def test_export_names_the_plan_and_import_refuses_another_tracks_file(env: simcord.Env) -> None:
    world = World(env, members=3)
    await env.settle()
    fe = await frontend(env, world)
    alice, bob, carol = world.members
    await alice.slash(world.channel, "track join", name="Frontend")
    await alice.slash(world.channel, "done", note="https://example.com/page")
    await alice.slash(world.channel, "done")
    exported = await alice.slash(world.channel, "data export")
    assert exported.ephemeral
    assert "Here is your progress in Frontend Track: 2/12 steps done" in exported.response.content
    assert exported.response.attachments[0].filename == "stepwise-progress-study-hall-frontend.md"
    text = (await exported.response.attachments[0].read()).decode()
    head = text.splitlines()[:5]
    assert head[0] == "# Frontend Track"
    assert head[2] == f"<!-- stepwise progress export v2 plan={fe.plan_id} version=1 -->"
    assert head[3] == "<!-- plan “Frontend Track”, version 1, track “Frontend” -->"
    assert "- [x] 1. HTML structure (Build a page about yourself)" in text

    refused = await bob.slash(world.channel, "data import", file=("alice.md", text.encode()))
    assert_user_error(env, refused, "That file is from the **Frontend** track, and you are on the "
                                    f"**{BACKEND}** track, so nothing was imported", "/track switch")
    await bob.slash(world.channel, "track join", name="Frontend")
    preview = await bob.slash(world.channel, "data import", file=("alice.md", text.encode()))
    assert "would change **2** of your steps (10 already match)" in embed_text(preview)
    applied = await bob.click(preview.response, label="Import")
    assert "**2/12**" in embed_text(applied)

    # a file from before tracks (format 1) is the bundled plan's
    carol_states = {1: (await load_member(env.bot.db, world.guild.id, alice.id)).states[1]}
    old = format_export(bot_of(env).plan, carol_states, "carol", "Study Hall", T0).replace(
        "<!-- stepwise progress export v2 plan=0 version=1 -->", "<!-- stepwise progress export v1 -->")
    refused = await alice.slash(world.channel, "data import", file=("old.md", old.encode()))
    assert_user_error(env, refused, f"That file is from the **{BACKEND}** track, and you are on the **Frontend**")
    accepted = await carol.slash(world.channel, "data import", file=("old.md", old.encode()))
    assert "would change **1** of your steps" in embed_text(accepted)


async def test_a_file_of_a_plan_this_server_does_not_have_is_refused_by_name(env: simcord.Env, world: World) -> None:
    text = format_export(bot_of(env).plan, {}, "alice", "Elsewhere", T0, plan_id=7, version=3)
    refused = await world.alice.slash(world.channel, "data import", file=("x.md", text.encode()))
    assert_user_error(env, refused, f"That file is from another plan (“{BACKEND}”), which this server does not "
                                    f"offer, and you are on the **{BACKEND}** track")


# ---------------------------------------------------------------------------------------------- stale buttons


async def test_buttons_made_before_a_switch_say_they_were_for_another_track(env: simcord.Env, world: World) -> None:
    await frontend(env, world)
    alice = world.alice
    following = await alice.slash(world.channel, "plan next")  # bundled step 1, with ◀ / ▶
    overview = await alice.slash(world.channel, "plan overview")  # 19 phases: pages
    search = await alice.slash(world.channel, "plan search", query="api")
    assert "Next ▶" in button_labels(overview.response)
    assert "Next ▶" in button_labels(search.response)
    await alice.slash(world.channel, "track join", name="Frontend")
    for message in (following, overview, search):
        stale = await alice.click(message.response.message, label="Next ▶")
        assert_answered(stale, f"This was for another track ({BACKEND}); you are on **Frontend** now")
    fe_step = await alice.slash(world.channel, "plan step", number=5)
    await alice.slash(world.channel, "track switch", name=BACKEND)
    stale = await alice.click(fe_step.response.message, label="Next ▶")
    assert_answered(stale, f"This was for another track (Frontend); you are on **{BACKEND}** now")
    # back on the bundled plan, its buttons work again
    fresh = await alice.click(following.response.message, label="Next ▶")
    assert fresh.response.embeds[0].title.startswith("Step 2 of 80:")


async def test_a_track_board_pages_on_that_track_after_a_switch(env: simcord.Env, world: World) -> None:
    fe = await frontend(env, world)
    for i in range(12):
        await put_on(env, world, 7000 + i, fe)
        await mark(env, world, 7000 + i, range(1, 12 - i % 11), T0 - timedelta(hours=1, minutes=i))
    await world.alice.slash(world.channel, "track join", name="Frontend")
    board = await world.alice.slash(world.channel, "leaderboard")
    await world.alice.slash(world.channel, "track switch", name=BACKEND)
    second = await world.alice.click(board.response.message, label="Next ▶")
    assert second.response.embeds[0].title == "🏆 Leaderboard · Frontend · All time"
    assert [re.sub(r"`#(\d+)`.*", r"\1", line) for line in lines(second)] == ["11", "12"]
    assert field(second, "You").startswith("You follow **Backend Learning Plan**, so you are not on this board")


# ---------------------------------------------------------------------------------------------- no uploads


async def test_a_server_without_its_own_plans_sees_the_bundled_plan_as_before(env: simcord.Env,
                                                                            world: World) -> None:
    bot: StepwiseBot = bot_of(env)
    listed = await world.alice.slash(world.channel, "track list")
    assert [f.name for f in listed.response.embeds[0].fields] == [f"➡️ {BACKEND}"]
    await world.alice.slash(world.channel, "done")
    card = await world.alice.slash(world.channel, "progress")
    assert card.response.embeds[0].title == "alice's progress"
    board = await world.alice.slash(world.channel, "leaderboard")
    assert board.response.embeds[0].title == "🏆 Leaderboard · All time"
    exported = await world.alice.slash(world.channel, "data export")
    assert exported.response.attachments[0].filename == "stepwise-progress-study-hall.md"
    assert await tracks_db.member_track(bot.db, world.guild.id, world.alice.id) == (0, None, None)
