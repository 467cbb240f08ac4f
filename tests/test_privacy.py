"""Issue 8 §7: a hidden member's own progress and notes are only ever shown to them (ephemeral), in replies and
after button presses; a visible member's replies stay public. The hidden-member tests failed before: /plan step,
overview and search, /buddies and every page or step button answered in public."""

from __future__ import annotations

import simcord

from tests.conftest import World
from tests.helpers import button_labels, embed_text


async def hide_with_a_note(world: World) -> None:
    await world.alice.slash(world.channel, "data privacy", visible=False)
    await world.alice.slash(world.channel, "done", step=1, note="my-private-note")


def public_messages(world: World) -> str:
    """Everything posted in the channel that everyone sees (ephemeral replies are not in its history)."""
    texts = []
    for message in world.channel.history():
        parts = [message.content]
        for embed in message.embeds:
            parts += [embed.title or "", embed.description or ""]
            parts += [f"{f.name}\n{f.value}" for f in embed.fields]
        texts.append("\n".join(parts))
    return "\n".join(texts)


async def test_plan_step_overview_and_search_of_a_hidden_member_are_ephemeral(env: simcord.Env,
                                                                              world: World) -> None:
    await hide_with_a_note(world)
    step = await world.alice.slash(world.channel, "plan step", number=1)
    assert step.ephemeral
    assert "✅ Done" in embed_text(step)
    assert "my-private-note" in embed_text(step)
    overview = await world.alice.slash(world.channel, "plan overview")
    assert overview.ephemeral
    assert "**1/80**" in embed_text(overview)
    search = await world.alice.slash(world.channel, "plan search", query="backend development")
    assert search.ephemeral
    assert "✅ Done" in embed_text(search)
    nxt = await world.alice.slash(world.channel, "plan next")
    assert nxt.ephemeral
    buddies = await world.alice.slash(world.channel, "buddies")  # names the step she is on
    assert buddies.ephemeral
    assert "step 2" in embed_text(buddies)
    progress = await world.alice.slash(world.channel, "progress")
    assert progress.ephemeral or (progress.followups and progress.followups[-1].ephemeral)
    public = public_messages(world)
    assert "my-private-note" not in public
    assert "✅ Done" not in public
    assert "1/80" not in public


async def test_a_visible_member_still_answers_in_public(env: simcord.Env, world: World) -> None:
    await world.bob.slash(world.channel, "done", step=1, note="bobs-note")
    step = await world.bob.slash(world.channel, "plan step", number=1)
    assert not step.ephemeral
    assert "✅ Done" in embed_text(step)
    assert "bobs-note" in embed_text(step)
    overview = await world.bob.slash(world.channel, "plan overview")
    assert not overview.ephemeral
    assert "**1/80**" in embed_text(overview)
    search = await world.bob.slash(world.channel, "plan search", query="backend development")
    assert not search.ephemeral
    assert "✅ Done" in embed_text(search)
    buddies = await world.bob.slash(world.channel, "buddies")
    assert not buddies.ephemeral
    moved = await world.bob.click(step.response.message, label="Next ▶")  # edits his public message in place
    assert moved.response is not None
    assert not moved.response.ephemeral
    assert moved.response.message.id == step.response.message.id
    assert "Step 2 of 80" in embed_text(moved)
    page = await world.bob.click(overview.response.message, label="Next ▶")
    assert page.response.message.id == overview.response.message.id
    assert not page.response.ephemeral
    assert "bobs-note" in public_messages(world)  # what the channel shows everyone


async def test_buttons_of_a_hidden_member_stay_private(env: simcord.Env, world: World) -> None:
    await hide_with_a_note(world)
    step = await world.alice.slash(world.channel, "plan step", number=2)
    moved = await world.alice.click(step.response, label="◀ Previous")
    assert moved.response.ephemeral
    assert "my-private-note" in embed_text(moved)
    overview = await world.alice.slash(world.channel, "plan overview")
    page = await world.alice.click(overview.response, label="Next ▶")
    assert page.response.ephemeral
    assert "**1/80**" in embed_text(page)
    assert "my-private-note" not in public_messages(world)


async def test_a_public_message_never_gains_the_status_of_a_member_who_hid_since(env: simcord.Env,
                                                                                  world: World) -> None:
    """Posted while visible, pressed after hiding: the public message stays, the new page comes privately."""
    step = await world.alice.slash(world.channel, "plan step", number=2)  # visible: public, not started
    overview = await world.alice.slash(world.channel, "plan overview")
    search = await world.alice.slash(world.channel, "plan search", query="api")
    assert not step.ephemeral
    assert not overview.ephemeral
    assert not search.ephemeral
    assert "Next ▶" in button_labels(search.response)
    await hide_with_a_note(world)
    before = public_messages(world)
    moved = await world.alice.click(step.response.message, label="◀ Previous")
    assert moved.response.ephemeral
    assert moved.response.message.id != step.response.message.id
    assert "my-private-note" in embed_text(moved)
    page = await world.alice.click(overview.response.message, label="Next ▶")
    assert page.response.ephemeral
    found = await world.alice.click(search.response.message, label="Next ▶")
    assert found.response.ephemeral
    assert public_messages(world) == before
    assert "my-private-note" not in before
    assert "1/80" not in before
