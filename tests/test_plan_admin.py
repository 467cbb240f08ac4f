"""/config plan as admins use it (SimCord): upload a plan (problems with line numbers, the limits, a file that is
not UTF-8: nothing stored), the preview and Confirm, an update that removes and restores a step (what it
changes, whose progress, archived not deleted), list, default and remove; members without Manage Server."""

from __future__ import annotations

import pytest
import simcord
from discord import app_commands

from bot.domain.progress import Status
from db import tracks as tracks_db
from db.progress import StepChange, apply_changes, load_member
from tests.community_support import add_admin, bot_of
from tests.conftest import World
from tests.helpers import button_labels, embed_text

FRONTEND = ("# Frontend Track\n\n## Basics\n" + "".join(f"- [ ] {i}. Page {i} (Build page {i})\n" for i in range(1, 4))
            + "## Styling\n" + "".join(f"- [ ] {i}. Style {i} (Style page {i})\n" for i in range(4, 7)))


def frontend(n: int = 6) -> bytes:
    lines = FRONTEND.splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith(tuple(f"- [ ] {i}." for i in range(n + 1, 7)))
                   ).encode()


@pytest.fixture
async def admin(env: simcord.Env, world: World) -> simcord.MemberActor:
    member = add_admin(env, world)
    await env.settle()
    return member


async def upload(admin: simcord.MemberActor, world: World, data: bytes, name: str = "Frontend",
                 filename: str = "frontend.md") -> simcord.InteractionResult:
    return await admin.slash(world.channel, "config plan upload", file=(filename, data), name=name)


async def stored(env: simcord.Env, world: World) -> list[tracks_db.PlanRow]:
    return await tracks_db.list_plans(bot_of(env).db, world.guild.id)


async def test_members_without_manage_server_cannot_upload(env: simcord.Env, world: World) -> None:
    assert "config plan upload" not in world.alice.available_commands(world.channel)
    with pytest.raises(simcord.SetupError):
        await world.alice.slash(world.channel, "config plan upload", file=("f.md", frontend()), name="x")
    commands = await bot_of(env).tree.fetch_commands()
    config = next(c for c in commands if c.name == "config")
    world.guild.set_command_permissions(config, {world.alice: True})
    result = await world.alice.slash(world.channel, "config plan upload", file=("f.md", frontend()), name="x")
    assert "Manage Server" in result.response.content
    simcord.assert_error(env, app_commands.MissingPermissions)
    assert await stored(env, world) == []


async def test_a_good_plan_is_previewed_then_stored_on_confirm(env: simcord.Env, world: World,
                                                             admin: simcord.MemberActor) -> None:
    result = await upload(admin, world, frontend())
    assert result.ephemeral
    text = embed_text(result)
    assert "Frontend" in text
    assert "6" in text
    assert "Basics" in text
    assert "Styling" in text
    assert "Page 1" in text
    assert "Style 6" in text
    assert button_labels(result.response) == ["Confirm", "Cancel"]
    assert await stored(env, world) == []  # nothing before Confirm
    confirmed = await admin.click(result.response, label="Confirm")
    assert "is a track now: 6 steps" in confirmed.response.content
    [row] = await stored(env, world)
    assert (row.name, row.steps, row.version) == ("Frontend", 6, 1)
    listing = await admin.slash(world.channel, "config plan list")
    assert "Frontend" in embed_text(listing)
    assert "Backend Learning Plan" in embed_text(listing)


async def test_cancel_stores_nothing(env: simcord.Env, world: World, admin: simcord.MemberActor) -> None:
    result = await upload(admin, world, frontend())
    cancelled = await admin.click(result.response, label="Cancel")
    assert "nothing changed" in cancelled.response.content
    assert await stored(env, world) == []


@pytest.mark.parametrize(("data", "filename", "fragments"), [
    (b"# T\n- [ ] 1. A (a)\n- [ ] 3. C (c)\nnot a step\n", "bad.md", ["line 3", "step 2 is missing", "line 4"]),
    (b"\xff\xfe\x00bad bytes", "bad.md", ["UTF-8"]),
    (b"", "empty.md", ["no steps"]),
    (b"- [ ] 1. A (a)\n", "plan.pdf", [".md"]),
    ("# T\n" + "".join(f"- [ ] {i}. S{i} (e)\n" for i in range(1, 502)), "big.md", ["500"]),
    ("- [ ] 1. " + "x" * 300 + " (e)\n", "long.md", ["line 1", "200"]),
])
async def test_bad_files_list_every_problem_and_store_nothing(env: simcord.Env, world: World,
                                                              admin: simcord.MemberActor, data: bytes | str,
                                                              filename: str, fragments: list[str]) -> None:
    raw = data.encode() if isinstance(data, str) else data
    result = await upload(admin, world, raw, filename=filename)
    assert result.ephemeral
    text = embed_text(result)
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    assert button_labels(result.response) == []
    assert await stored(env, world) == []


async def test_a_file_over_256_kb_is_refused_before_reading(env: simcord.Env, world: World,
                                                            admin: simcord.MemberActor) -> None:
    result = await upload(admin, world, b"- [ ] 1. A (a)\n" + b" " * (256 * 1024), filename="huge.md")
    assert result.ephemeral
    assert "256 KB" in result.response.content
    assert await stored(env, world) == []
    env.errors.clear()


@pytest.mark.parametrize("name", ["   ", "a\nb", "Backend Learning Plan"])
async def test_bad_names_are_refused(env: simcord.Env, world: World, admin: simcord.MemberActor, name: str) -> None:
    result = await upload(admin, world, frontend(), name=name)
    assert result.ephemeral
    assert button_labels(result.response) == []
    assert await stored(env, world) == []
    env.errors.clear()


async def test_an_update_shows_its_changes_archives_and_restores_progress(env: simcord.Env, world: World,
                                                                        admin: simcord.MemberActor) -> None:
    await admin.click((await upload(admin, world, frontend())).response, label="Confirm")
    bot = bot_of(env)
    [row] = await stored(env, world)
    track = await bot.tracks.get(world.guild.id, row.plan_id)
    assert track is not None
    await bot.tracks.switch(world.guild.id, world.alice.id, track, bot.clock(), default_tz=bot.settings.tz)
    await apply_changes(bot.db, world.guild.id, world.alice.id, [StepChange(n, Status.DONE) for n in range(1, 7)],
                        bot.clock(), default_tz=bot.settings.tz)
    shorter = await upload(admin, world, frontend(5))
    text = embed_text(shorter)
    assert "6" in text
    assert "removed" in text.casefold()
    assert "1 member" in text  # progress on the removed step
    await admin.click(shorter.response, label="Confirm")
    assert set((await load_member(bot.db, world.guild.id, world.alice.id)).states) == {1, 2, 3, 4, 5}
    same = await upload(admin, world, frontend(5))
    assert button_labels(same.response) == []  # nothing changes: nothing to confirm
    again = await upload(admin, world, frontend(6))
    assert "added" in embed_text(again).casefold()
    done = await admin.click(again.response, label="Confirm")
    assert "version 3" in done.response.content
    back = await load_member(bot.db, world.guild.id, world.alice.id)
    assert back.states[6].status is Status.DONE  # the archived progress came back with the step


async def test_default_and_remove_with_confirmation(env: simcord.Env, world: World,
                                                    admin: simcord.MemberActor) -> None:
    await admin.click((await upload(admin, world, frontend())).response, label="Confirm")
    choices = await admin.autocomplete(world.channel, "config plan default", "name", "fro")
    assert [c["value"] for c in choices] == ["Frontend"]
    result = await admin.slash(world.channel, "config plan default", name="frontend")
    assert "New members now start on **Frontend**" in result.response.content
    bot = bot_of(env)
    await apply_changes(bot.db, world.guild.id, world.bob.id, [StepChange(1, Status.DONE)], bot.clock(),
                        default_tz=bot.settings.tz)  # bob is new: he starts on Frontend
    assert (await bot.tracks.current(world.guild.id, world.bob.id)).name == "Frontend"
    ask = await admin.slash(world.channel, "config plan remove", name="Frontend")
    assert "**1** member follow **Frontend**" in ask.response.content
    gone = await admin.click(ask.response, label="Remove Frontend")
    assert "1 member moved to **Backend Learning Plan**" in gone.response.content
    assert await stored(env, world) == []
    assert (await bot.tracks.current(world.guild.id, world.bob.id)).bundled
    refused = await admin.slash(world.channel, "config plan remove", name="Backend Learning Plan")
    assert "cannot be removed" in refused.response.content
    env.errors.clear()


async def test_a_cohort_per_track_shows_on_its_members_progress(env: simcord.Env, world: World,
                                                                admin: simcord.MemberActor) -> None:
    await admin.click((await upload(admin, world, frontend())).response, label="Confirm")
    bot = bot_of(env)
    today = bot.clock().date().isoformat()
    result = await admin.slash(world.channel, "config cohort", start=today, pace=2.0, track="Frontend")
    assert "all 6 steps" in result.response.content
    await world.alice.slash(world.channel, "track join", name="Frontend")
    await world.alice.slash(world.channel, "done")
    card = await world.alice.slash(world.channel, "progress")
    assert "Cohort pace" in embed_text(card)
    other = await world.bob.slash(world.channel, "done")  # bob is on the bundled plan: it has no cohort
    assert other.response is not None
    assert "Cohort pace" not in embed_text(await world.bob.slash(world.channel, "progress"))
