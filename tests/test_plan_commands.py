"""/plan overview, step, search, next and /help, as a member sees them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import simcord

from bot.app import StepwiseBot
from bot.domain.progress import Status
from db.progress import StepChange, apply_changes
from tests.conftest import World
from tests.helpers import assert_user_error, button_labels, embed_text


async def mark(env: simcord.Env, member: simcord.MemberActor, guild_id: int, *changes: StepChange) -> None:
    bot: StepwiseBot = env.bot  # type: ignore[assignment]
    await apply_changes(bot.db, guild_id, member.id, list(changes), bot.clock(), default_tz=bot.settings.tz)


# ---------------------------------------------------------------- /plan step

async def test_step_57_shows_title_exercise_and_phase_exactly(world: World) -> None:
    result = await world.alice.slash(world.channel, "plan step", number=57)
    assert not result.ephemeral
    embed = result.response.embeds[0]
    assert embed.title == "Step 57 of 80: Security advanced topics (OWASP Top 10)"
    fields = {f.name: f.value for f in embed.fields}
    assert fields["Exercise"] == "Protect API against common attacks (SQLi, XSS, CSRF)"
    assert fields["Phase 15 of 19"] == "Security, gateways and cloud architecture (steps 57–60)"
    assert fields["Your status"] == "Not started"
    assert button_labels(result.response) == ["◀ Previous", "Next ▶"]


async def test_step_buttons_move_to_neighbours_and_stop_at_the_ends(world: World) -> None:
    """Failed before: step 1 showed a disabled "◀ Start", which reads like the /start command."""
    first = await world.alice.slash(world.channel, "plan next")
    assert first.response.embeds[0].title.startswith("Your next step: 1. ")
    assert button_labels(first.response) == ["◀ Previous", "Next ▶"]
    assert [b["disabled"] for b in first.response.components[0]["components"]] == [True, False]
    moved = await world.alice.click(first.response.message, label="Next ▶")
    assert moved.response.embeds[0].title.startswith("Step 2 of 80: Learn HTTP")
    assert button_labels(moved.response) == ["◀ Previous", "Next ▶"]
    back = await world.alice.click(moved.response.message, label="◀ Previous")
    assert back.response.embeds[0].title.startswith("Step 1 of 80")
    last = await world.alice.slash(world.channel, "plan step", number=80)
    assert button_labels(last.response) == ["◀ Previous", "Next ▶"]
    assert [b["disabled"] for b in last.response.components[0]["components"]] == [False, True]
    back = await world.alice.click(last.response.message, label="◀ Previous")
    assert back.response.embeds[0].title.startswith("Step 79 of 80")


async def test_step_buttons_work_after_a_restart_and_only_for_the_member_who_asked(env: simcord.Env,
                                                                                   world: World) -> None:
    shown = await world.alice.slash(world.channel, "plan step", number=10)
    await env.restart_bot(env.make_bot())  # type: ignore[attr-defined]
    refused = await world.bob.click(shown.response.message, label="Next ▶")
    assert refused.ephemeral
    assert "/plan step" in refused.response.content
    moved = await world.alice.click(shown.response.message, label="Next ▶")
    assert moved.response.embeds[0].title.startswith("Step 11 of 80: Hash maps")


async def test_step_shows_the_members_own_status_and_note(env: simcord.Env, world: World) -> None:
    await mark(env, world.alice, world.guild.id, StepChange(5, Status.DONE, note="my **repo** @everyone"))
    result = await world.alice.slash(world.channel, "plan step", number=5)
    fields = {f.name: f.value for f in result.response.embeds[0].fields}
    assert fields["Your status"] == "✅ Done"
    assert "\\*\\*repo\\*\\*" in fields["Your note"]  # member text shown as text, not Markdown
    other = await world.bob.slash(world.channel, "plan step", number=5)
    assert {f.name: f.value for f in other.response.embeds[0].fields}["Your status"] == "Not started"


@pytest.mark.parametrize("number", [0, 81, -3, 1000])
async def test_out_of_range_steps_name_the_valid_range(env: simcord.Env, world: World, number: int) -> None:
    result = await world.alice.slash(world.channel, "plan step", number=number)
    assert_user_error(env, result, f"There is no step {number}", "from 1 to 80")


@pytest.mark.parametrize(
    ("typed", "expected_first"),
    [("kube", 72), ("KUBE", 72), ("xss", 57), ("5", 5), ("", 1), ("graphql", 77)],
)
async def test_step_autocomplete_by_number_or_words(world: World, typed: str, expected_first: int) -> None:
    choices = await world.alice.autocomplete(world.channel, "plan step", "number", typed)
    assert choices, f"no choices for {typed!r}"
    assert choices[0]["value"] == expected_first
    assert len(choices) <= 25
    assert all(len(c["name"]) <= 100 for c in choices)


async def test_autocomplete_with_nothing_matching_offers_nothing(world: World) -> None:
    assert await world.alice.autocomplete(world.channel, "plan step", "number", "quantum") == []
    assert [c["value"] for c in await world.alice.autocomplete(world.channel, "plan step", "number", "8")] == [8, 80]


# ---------------------------------------------------------------- /plan overview

async def test_overview_lists_phases_with_ranges_and_pages(world: World) -> None:
    result = await world.alice.slash(world.channel, "plan overview")
    embed = result.response.embeds[0]
    assert "80 steps in 19 phases" in embed.title
    assert embed.fields[0].name.startswith("Phase 1 · Foundations")
    assert "Steps 1–4 · 0/4 done" in embed.fields[0].value
    assert "0/80" in embed.description
    assert button_labels(result.response) == ["◀ Previous", "Page 1 of 3", "Next ▶"]
    page2 = await world.alice.click(result.response.message, label="Next ▶")
    assert page2.response.embeds[0].fields[0].name.startswith("Phase 9 · ")
    assert button_labels(page2.response)[1] == "Page 2 of 3"
    refused = await world.bob.click(page2.response.message, label="Next ▶")
    assert refused.ephemeral
    assert "belong to whoever ran the command" in refused.response.content


async def test_overview_counts_done_steps_per_phase(env: simcord.Env, world: World) -> None:
    now = env.bot.clock()  # type: ignore[attr-defined]
    await mark(env, world.alice, world.guild.id,
               *(StepChange(n, Status.DONE, done_at=now - timedelta(hours=n)) for n in (1, 2, 3, 4, 5)),
               StepChange(6, Status.SKIPPED))
    result = await world.alice.slash(world.channel, "plan overview")
    embed = result.response.embeds[0]
    assert "5/80" in embed.description
    assert embed.fields[0].name.endswith("✅")
    assert "1/4 done" in embed.fields[1].value  # step 6 skipped does not count


# ---------------------------------------------------------------- /plan search

async def test_search_finds_steps_case_insensitively(world: World) -> None:
    result = await world.alice.slash(world.channel, "plan search", query="DOCKER")
    text = embed_text(result)
    assert "Step 71 · Containerization with Docker" in text
    assert "Containerize your backend app" in text


async def test_search_paginates_many_results(world: World) -> None:
    result = await world.alice.slash(world.channel, "plan search", query="api")
    title = result.response.embeds[0].title
    count = int(title.split()[0])
    assert count > 8
    assert len(result.response.embeds[0].fields) == 8
    first_on_page1 = result.response.embeds[0].fields[0].name
    page2 = await world.alice.click(result.response.message, label="Next ▶")
    assert page2.response.embeds[0].title == title
    assert page2.response.embeds[0].fields[0].name != first_on_page1
    assert button_labels(page2.response)[1] == f"Page 2 of {-(-count // 8)}"


async def test_search_with_no_match_says_so_and_suggests(world: World) -> None:
    result = await world.alice.slash(world.channel, "plan search", query="@everyone quantum")
    embed = result.response.embeds[0]
    assert embed.title == "No step matches “@\u200beveryone quantum”"
    assert "Try a shorter word" in embed.description
    assert button_labels(result.response) == []


async def test_search_of_only_spaces_is_a_clear_error(env: simcord.Env, world: World) -> None:
    result = await world.alice.slash(world.channel, "plan search", query="   ")
    assert_user_error(env, result, "at least one word")


async def test_search_longer_than_50_characters_is_refused_by_discord(world: World) -> None:
    with pytest.raises(simcord.OptionError):
        await world.alice.slash(world.channel, "plan search", query="x" * 51)


# ---------------------------------------------------------------- /plan next

async def test_next_is_step_1_for_a_newcomer(world: World) -> None:
    result = await world.alice.slash(world.channel, "plan next")
    assert result.ephemeral
    assert result.response.embeds[0].title == "Your next step: 1. Understand what backend development is " \
                                              "(role, responsibilities)"


async def test_next_follows_progress_and_passes_over_skipped_steps(env: simcord.Env, world: World) -> None:
    await mark(env, world.alice, world.guild.id, StepChange(1, Status.DONE), StepChange(2, Status.SKIPPED))
    result = await world.alice.slash(world.channel, "plan next")
    assert result.response.embeds[0].title.startswith("Your next step: 3. Learn REST API concepts")
    await mark(env, world.alice, world.guild.id, StepChange(7, Status.IN_PROGRESS))
    result = await world.alice.slash(world.channel, "plan next")
    assert result.response.embeds[0].title.startswith("Your next step: 7. Functions/methods")


async def test_next_when_everything_is_done(env: simcord.Env, world: World) -> None:
    await mark(env, world.alice, world.guild.id, *(StepChange(n, Status.DONE) for n in range(1, 81)))
    result = await world.alice.slash(world.channel, "plan next")
    assert result.ephemeral
    assert "finished all 80 steps" in result.response.content


# ---------------------------------------------------------------- /help

async def test_help_lists_every_command_grouped(env: simcord.Env, world: World) -> None:
    result = await world.alice.slash(world.channel, "help")
    assert result.ephemeral
    text = embed_text(result)
    bot: StepwiseBot = env.bot  # type: ignore[assignment]
    for command in bot.tree.walk_commands():
        if not hasattr(command, "commands"):  # leaf commands, subcommands included
            assert f"/{command.qualified_name}" in text, command.qualified_name
    assert "/plan step** `number`" in text
    [embed] = result.response.embeds
    assert len(embed) <= 6000  # Discord's limit for all of an embed's text
    assert all(len(field.value or "") <= 1024 for field in embed.fields)
