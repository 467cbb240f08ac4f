"""The offline demo: the real bot, unmodified, against SimCord's simulated Discord, in a browser.

`make demo` builds the bot on a throw-away database, seeds a demo server with 28 members part-way through
the plan (reminders at 09:00 in their own zones, a daily leaderboard post, milestone announcements), and
serves SimCord's channel preview on 127.0.0.1, where a person types slash commands and clicks buttons.
Time stands still until someone runs `/demo advance hours:<n>` (cogs/demo.py): the harness below then
moves SimCord's clock an hour at a time, runs the bot's scheduled work at each step, lets the other demo
members answer their reminders, and edits the deferred answer with what happened. No Discord token is
needed and nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import logging
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import discord

from bot.app import EXTENSIONS, StepwiseBot, create_bot
from bot.config import Settings
from bot.domain.community import Cohort, PostSchedule, next_slot
from bot.domain.progress import Status
from bot.domain.reminders import Schedule
from bot.tree import StepwiseTree, user_message
from bot.ui.community_views import getting_started_embed
from bot.ui.demo import attach_machine, dm_copy, latest_dm
from db.community import set_cohort, set_leaderboard, set_milestones_channel
from db.progress import StepChange, apply_changes
from db.reminders import set_reminder
from db.settings import set_guild_timezone

log = logging.getLogger(__name__)

SERVER_TZ = "Europe/Berlin"
LEADERBOARD_AT = time(18, 0)  # server time, daily, in #study (the channel the preview shows)
BOT_NAME = "Stepwise"
BOT_AVATAR_HASH = "stepwise"  # the bot user's avatar "hash": the preview asks for it by URL, we supply the bytes
DISCORD_CDN = "https://cdn.discordapp.com"
SIMCORD_CDN = "https://cdn.simcord.invalid"
STEP_SECONDS = 3600  # /demo advance moves the clock one hour at a time and runs the scheduled work after each


@dataclass(frozen=True)
class DemoMember:
    name: str
    done: int  # steps 1..done are done, spread over the last weeks
    in_progress: int | None = None
    skipped: tuple[int, ...] = ()
    admin: bool = False
    tz: str = SERVER_TZ
    reminder: bool = True  # a daily reminder at 09:00 in `tz`
    keen: int = 2  # of 3 reminder DMs, how many this member answers with "Mark done" when time moves
    idle: int = 0  # days since their last step: more than 14 and /insights lists them as stalled


DEMO_MEMBERS = (
    DemoMember("ada", done=0, admin=True, keen=0),  # the first viewer: a newcomer, moved by the person
    DemoMember("grace", done=23, in_progress=24, skipped=(20,), keen=3),  # finishes phase 7 on her next DM
    DemoMember("linus", done=12, in_progress=13, tz="Europe/Helsinki"),
    DemoMember("margaret", done=41, tz="America/New_York", keen=3),  # finishes phase 11 on her next DM
    DemoMember("ken", done=4, tz="America/Los_Angeles", idle=20, keen=0),  # stalled: /insights can nudge
    DemoMember("barbara", done=33, tz="America/Chicago"),
    DemoMember("dennis", done=29, in_progress=30),
    DemoMember("radia", done=18, tz="Asia/Kolkata"),
    DemoMember("guido", done=37, tz="Europe/Amsterdam"),
    DemoMember("frances", done=9, tz="America/Toronto", idle=16, keen=0),
    DemoMember("edsger", done=26, tz="Europe/Amsterdam", keen=1),
    DemoMember("hedy", done=7, tz="Europe/Vienna", idle=31, keen=0),
    DemoMember("alan", done=21, tz="Europe/London"),
    DemoMember("sophie", done=15, tz="Europe/London"),
    DemoMember("yukihiro", done=31, tz="Asia/Tokyo"),
    DemoMember("anders", done=11, tz="Europe/Copenhagen"),
    DemoMember("joan", done=2, tz="America/Denver", keen=1),
    DemoMember("bjarne", done=25, tz="Europe/Oslo"),
    DemoMember("katherine", done=44, tz="America/New_York"),
    DemoMember("tim", done=6, tz="Europe/London", reminder=False),
    DemoMember("lynn", done=19, tz="America/Los_Angeles"),
    DemoMember("rasmus", done=14, tz="Europe/Copenhagen"),
    DemoMember("adele", done=35, tz="America/Los_Angeles"),
    DemoMember("niklaus", done=3, tz="Europe/Zurich", reminder=False),
    DemoMember("shafi", done=27, tz="America/New_York"),
    DemoMember("leslie", done=39, tz="America/New_York", keen=3),
    DemoMember("evelyn", done=10, tz="Australia/Sydney"),
    DemoMember("john", done=16, tz="America/Chicago", keen=1),
)


# ---------------------------------------------------------------------------------------------- images


def _png(draw: Any, size: int = 128) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw(ImageDraw.Draw(image), size)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def bot_avatar_png() -> bytes:
    """Stepwise's avatar: white stairs climbing to a dot on an orange disc."""
    def draw(canvas: Any, size: int) -> None:
        canvas.ellipse((0, 0, size - 1, size - 1), fill=(242, 113, 33, 255))
        unit = size // 8
        stairs = [(2 * unit, 6 * unit)]
        for step in range(3):
            x, y = 2 * unit + step * unit * 4 // 3, 6 * unit - step * unit * 4 // 3
            stairs += [(x, y - unit * 4 // 3), (x + unit * 4 // 3, y - unit * 4 // 3)]
        stairs += [(6 * unit, 6 * unit)]
        canvas.polygon(stairs, fill=(255, 255, 255, 255))
        canvas.ellipse((5 * unit, unit, 6 * unit + unit // 2, 2 * unit + unit // 2), fill=(255, 255, 255, 255))
    return _png(draw)


DEFAULT_AVATAR_COLOURS = ((88, 101, 242), (117, 126, 138), (59, 165, 93), (250, 166, 26), (237, 66, 69),
                          (235, 69, 158))


def member_avatar_png(index: int) -> bytes:
    """A stand-in for Discord's default avatar `index` (0-5): a silhouette on the same colour."""
    colour = (*DEFAULT_AVATAR_COLOURS[index % 6], 255)

    def draw(canvas: Any, size: int) -> None:
        canvas.ellipse((0, 0, size - 1, size - 1), fill=colour)
        canvas.ellipse((size * 3 // 8, size // 5, size * 5 // 8, size * 9 // 20), fill=(255, 255, 255, 255))
        canvas.pieslice((size // 4, size * 1 // 2, size * 3 // 4, size), 180, 360, fill=(255, 255, 255, 255))
    return _png(draw)


def offline_assets(bot_user_id: int) -> dict[str, tuple[str, bytes]]:
    """Every remote image the demo page would fetch, as bytes: the bot's avatar and the default avatars,
    at the addresses the preview uses and at those discord.py puts in embeds (the progress card's thumbnail)."""
    assets: dict[str, tuple[str, bytes]] = {}
    avatar = bot_avatar_png()
    for base in (SIMCORD_CDN, DISCORD_CDN):
        assets[f"{base}/avatars/{bot_user_id}/{BOT_AVATAR_HASH}.png"] = ("stepwise.png", avatar)
        assets[f"{base}/avatars/{bot_user_id}/{BOT_AVATAR_HASH}.png?size=1024"] = ("stepwise.png", avatar)
        for index in range(6):
            png = member_avatar_png(index)
            assets[f"{base}/embed/avatars/{index}.png"] = (f"avatar-{index}.png", png)
    return assets


# ---------------------------------------------------------------------------------------------- the world


async def seed_progress(bot: StepwiseBot, guild_id: int, user_id: int, member: DemoMember, now: datetime) -> None:
    """Give a demo member a believable history: steps done over the past weeks, a few per day, each written at
    its own moment (so /insights has durations, active weeks and, for idle members, someone stalled)."""
    days = max(1, member.done // 2) * 3
    last = now - timedelta(days=member.idle)
    for index, number in enumerate(range(1, member.done + 1)):
        when = last - timedelta(days=days - index * days / max(member.done, 1), hours=index % 5)
        change = StepChange(number, Status.SKIPPED) if number in member.skipped else \
            StepChange(number, Status.DONE, done_at=when)
        await apply_changes(bot.db, guild_id, user_id, [change], when, default_tz=bot.settings.tz,
                            record_history=False)
    if member.in_progress:
        await apply_changes(bot.db, guild_id, user_id, [StepChange(member.in_progress, Status.IN_PROGRESS)], now,
                            default_tz=bot.settings.tz, record_history=False)


async def build_world(env: Any, bot: StepwiseBot) -> tuple[Any, Any, list[Any]]:
    """The demo server: #study, a Moderators role for the admin, and the demo members with progress."""
    guild = env.create_guild("Stepwise Demo")
    channel = guild.create_text_channel("study")
    mods = guild.create_role("Moderators", permissions=discord.Permissions(manage_guild=True, manage_roles=True))
    members = []
    now = env.now()  # the simulated clock (the bot reads the same one while it handles commands)
    for spec in DEMO_MEMBERS:
        member = guild.add_member(env.create_user(spec.name), roles=[mods] if spec.admin else [])
        members.append(member)
        await seed_progress(bot, guild.id, member.id, spec, now)
        if spec.reminder:
            await set_reminder(bot.db, guild.id, member.id, Schedule(time(9, 0), ZoneInfo(spec.tz)), now)
    await configure_server(bot, guild.id, channel.id, now)
    await env.settle()
    text_channel = bot.get_channel(channel.id)
    if isinstance(text_channel, discord.TextChannel):  # what a server sees when the bot joins
        await text_channel.send(embed=getting_started_embed(bot.plan))
    await env.settle()
    return guild, channel, members


async def configure_server(bot: StepwiseBot, guild_id: int, channel_id: int, now: datetime) -> None:
    """What an admin would set with /config: the server's zone, a daily leaderboard post at 18:00 and
    milestones announced in #study (the channel the page shows), and a cohort that began three weeks ago
    at four steps a week, so /progress and /config show have something to say."""
    await set_guild_timezone(bot.db, guild_id, SERVER_TZ)
    schedule = PostSchedule("daily", LEADERBOARD_AT)
    await set_leaderboard(bot.db, guild_id, channel_id, schedule, next_slot(schedule, now, ZoneInfo(SERVER_TZ)))
    await set_milestones_channel(bot.db, guild_id, channel_id)
    await set_cohort(bot.db, guild_id, Cohort(now.date() - timedelta(weeks=3), 4))


DEMO_NOTE = (
    "🧪 **This is the offline demo.** Time stands still here until you move it: "
    "`/demo advance hours:24` runs a simulated day (the 09:00 reminder DMs, the 18:00 leaderboard post, "
    "milestones as other members study), and `/demo dm` shows your latest DM. "
    "Switch member with **Viewing as** at the top (ada is an admin: she can upload her own plan with "
    "`/config plan upload`, docs/example-plan.md is one, and see where members stall with `/insights`)."
)


async def post_demo_note(env: Any, bot: StepwiseBot, channel_id: int) -> None:
    channel = bot.get_channel(channel_id)
    if isinstance(channel, discord.TextChannel):
        await channel.send(DEMO_NOTE)
    await env.settle()


def present_as_stepwise(env: Any) -> None:
    """Before the bot connects: the simulated bot account is called Stepwise and has its own avatar."""
    env.backend.bot_user.name = BOT_NAME
    env.backend.bot_user.avatar = BOT_AVATAR_HASH


def answer_mistakes_quietly(env: Any, bot: StepwiseBot) -> None:
    """A member's mistake is an answer, not a failure, on the demo page too.

    SimCord records every error that reaches the tree's on_error, even one the bot answered, and the page
    marks an action with a recorded error as failed ("Action outcome uncertain"). SimCord has no way to mark
    an error as expected, so the demo routes the errors `bot.tree.user_message` recognises (UserError and
    friends) straight to Stepwise's own handler, unrecorded; every other error still goes through SimCord's
    recording wrapper. The bot keeps its one error path: StepwiseTree.on_error answers both.
    """
    tree = bot.tree
    if not isinstance(tree, StepwiseTree):  # pragma: no cover - create_bot always builds one
        return
    recording = tree.on_error

    async def on_error(interaction: discord.Interaction[Any], error: discord.app_commands.AppCommandError) -> None:
        if user_message(error) is not None:
            await StepwiseTree.on_error(tree, interaction, error)
        else:
            await recording(interaction, error)

    tree.on_error = on_error  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------- time


@dataclass
class AdvanceReport:
    """What happened while the clock moved."""

    start: datetime
    end: datetime
    reminders: int = 0
    leaderboard_posts: int = 0
    milestones: int = 0
    answered: int = 0  # reminder DMs the other demo members answered with "Mark done"
    dms_for: list[int] = field(default_factory=list)  # user ids that got a reminder DM

    def summary(self, viewer_id: int | None = None) -> str:
        hours = round((self.end - self.start).total_seconds() / 3600)
        parts = [f"{self.reminders} reminder DM{'s' if self.reminders != 1 else ''}",
                 f"{self.leaderboard_posts} leaderboard post{'s' if self.leaderboard_posts != 1 else ''}",
                 f"{self.milestones} milestone announcement{'s' if self.milestones != 1 else ''}"]
        lines = [f"⏩ Moved {hours} h forward, to {discord.utils.format_dt(self.end, 'F')}: {', '.join(parts)}."]
        if self.answered:
            lines.append(f"Other members answered {self.answered} of their reminders with ✅ Mark done.")
        if viewer_id is not None and viewer_id not in self.dms_for:
            lines.append("No reminder for you on the way: set one with `/remind set time:09:00`.")
        if self.leaderboard_posts or self.milestones:
            lines.append("The posts are in #study, below this answer.")
        return "\n".join(lines)


class DemoClock:
    """Moves SimCord's clock for `/demo advance`. Runs in the demo's own task: SimCord forbids bot code to
    move the clock, so the command only defers and queues its request here."""

    def __init__(self, env: Any, bot: StepwiseBot, channel_id: int, members: Iterable[Any]) -> None:
        self.env = env
        self.bot = bot
        self.channel_id = channel_id
        listed = list(members)
        self.members = {member.id: member for member in listed}
        self.keen = {member.id: spec.keen for member, spec in zip(listed, DEMO_MEMBERS, strict=False)}
        self.preview: Any = None
        self.requests: asyncio.Queue[tuple[discord.Interaction, int]] = asyncio.Queue()

    def request_advance(self, interaction: discord.Interaction, hours: int) -> None:
        self.requests.put_nowait((interaction, hours))

    def _bot_messages_after(self, marks: dict[int, int]) -> list[Any]:
        bot_id = self.env.backend.bot_user.id
        return [message for channel_id, messages in self.env.backend.messages.items()
                for message_id, message in messages.items()
                if message_id > marks.get(channel_id, 0) and message.author_id == bot_id
                and message.interaction_metadata is None]

    def _marks(self) -> dict[int, int]:
        return {channel_id: max(messages, default=0) for channel_id, messages in self.env.backend.messages.items()}

    async def advance(self, hours: int, *, viewer_id: int | None = None) -> AdvanceReport:
        """Move the clock `hours` forward an hour at a time, running the scheduled work after each step."""
        report = AdvanceReport(self.env.now(), self.env.now())
        dm_channels = self.env.backend.dm_channels
        for _ in range(hours):
            marks = self._marks()
            await self.env.advance_time(STEP_SECONDS)
            await self.bot.run_scheduled(self.env.now())
            await self.env.settle()
            new = self._bot_messages_after(marks)
            dm_owner = {channel: user for user, channel in dm_channels.items()}
            for message in new:
                if message.channel_id in dm_owner:
                    report.reminders += 1
                    report.dms_for.append(dm_owner[message.channel_id])
                elif message.channel_id == self.channel_id and message.embeds:
                    report.leaderboard_posts += 1
            reminded = [dm_owner[m.channel_id] for m in new if m.channel_id in dm_owner]
            marks = self._marks()
            report.answered += await self._others_answer(reminded, viewer_id)
            report.milestones += sum(1 for m in self._bot_messages_after(marks)
                                     if m.channel_id == self.channel_id and m.content.startswith("🎉"))
        report.end = self.env.now()
        tidy_world(self.env)
        return report

    async def _others_answer(self, user_ids: list[int], viewer_id: int | None) -> int:
        """The other demo members study too: some answer their reminder with Mark done."""
        answered = 0
        for user_id in user_ids:
            member = self.members.get(user_id)
            if member is None or user_id == viewer_id:
                continue
            day = self.env.now().date().toordinal()
            if zlib.crc32(f"{user_id}:{day}".encode()) % 3 >= self.keen.get(user_id, 0):
                continue
            message = member.user.dm_channel.last_message if member.user.dm_channel else None
            if message is None:
                continue
            try:
                await member.user.click(message, label="Mark done")
                answered += 1
            except Exception:  # a demo member's click never stops the clock
                log.exception("demo member %s could not click Mark done", user_id)
        return answered

    async def serve(self) -> None:
        """Answer queued `/demo advance` requests, one at a time, for as long as the demo runs."""
        while True:
            interaction, hours = await self.requests.get()
            try:
                await self._serve_one(interaction, hours)
            except Exception:
                log.exception("/demo advance %s h failed", hours)

    async def _wait_for_quiet(self) -> None:
        """The page's action that queued the request must finish before the clock may move."""
        for _ in range(6000):  # SimCord offers no event for "operation over"; poll for at most a minute
            if self.env._operation_task is None:
                return
            await asyncio.sleep(0.01)

    async def _serve_one(self, interaction: discord.Interaction, hours: int) -> None:
        await self._wait_for_quiet()
        # The deferred answer is edited after the jump; a real interaction token lasts 15 minutes, so the
        # demo keeps this one alive across the simulated hours (the only thing the demo bends in SimCord).
        record = self.env.backend.interactions.get(interaction.id)
        if record is not None:
            record.expires_at = None
        report = await self.advance(hours, viewer_id=interaction.user.id)
        reply: dict[str, Any] = {"content": report.summary(interaction.user.id), "embeds": [], "view": None}
        if interaction.user.id in report.dms_for:
            message = await latest_dm(self.bot, interaction.user)
            if message is not None:
                copy = dm_copy(message, header="📬 **Your reminder DM** (a copy; its buttons work as in the DM)")
                reply = {**copy, "content": f"{reply['content']}\n\n{copy['content']}"[:2000]}
        await interaction.edit_original_response(**reply)
        if self.preview is not None:
            await self.preview.refresh()


# ---------------------------------------------------------------------------------------------- running


@dataclass
class DemoWorld:
    env: Any
    bot: StepwiseBot
    guild: Any
    channel: Any
    members: list[Any]
    clock: DemoClock


def demo_bot(settings: Settings) -> StepwiseBot:
    """The real bot plus the demo cog; time moves only when asked (/demo advance): no real interval job."""
    return create_bot(settings, extensions=(*EXTENSIONS, "cogs.demo"), interval_job=False)


def demo_env(bot: StepwiseBot) -> Any:
    import simcord

    env = simcord.Env(bot, check_errors=False, settle_timeout=60.0, shard_count=1)  # one shard: Discord would say
    present_as_stepwise(env)
    return env


async def open_world(env: Any, bot: StepwiseBot) -> DemoWorld:
    """After env.start(): the demo server, its members and the clock, with the world frozen out of gc."""
    answer_mistakes_quietly(env, bot)
    guild, channel, members = await build_world(env, bot)
    await post_demo_note(env, bot, channel.id)
    clock = DemoClock(env, bot, channel.id, members)
    attach_machine(bot, clock)
    await asyncio.to_thread(warm_up_charts)
    insights = bot.get_cog("Insights")
    if insights is not None:  # start /insights' chart process now, not on the organiser's first /insights
        insights.charts.warm()  # type: ignore[attr-defined]
    tidy_world(env)
    return DemoWorld(env, bot, guild, channel, members, clock)


async def run_demo(settings: Settings, *, port: int, wait: bool = True) -> None:
    try:
        import simcord  # noqa: F401 - only to fail with a clear message
    except ImportError as error:  # pragma: no cover - `make demo` installs it
        raise SystemExit("the demo needs SimCord: run `make demo`, which installs it") from error

    for noisy in ("discord.state", "discord.client", "discord.gateway"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="stepwise-demo-") as tmp:
        bot = demo_bot(settings.model_copy(update={"database_path": Path(tmp) / "demo.sqlite3", "database_url": None,
                                                   "dev_guild_id": None, "shard_count": None, "shard_ids": None}))
        env = demo_env(bot)
        await env.start()
        served: asyncio.Task[None] | None = None
        try:
            world = await open_world(env, bot)
            assets = offline_assets(env.backend.bot_user.id)
            async with env.preview(world.channel, viewers=world.members, layout="channel", port=port,
                                   assets=assets, timezone=SERVER_TZ) as preview:
                world.clock.preview = preview
                served = asyncio.create_task(world.clock.serve())
                print_banner(preview.url, port, [m.name for m in world.members])
                if wait:
                    await preview.wait_closed()
        finally:
            if served is not None:
                served.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await served
            with contextlib.suppress(Exception):
                await env.shutdown()
            await bot.close()


def warm_up_charts() -> None:
    """Import matplotlib and draw one throw-away figure now, so a member's first /progress is not the one
    that pays ~0.4 s of imports and font loading."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    days = [datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")), datetime(2026, 1, 2, tzinfo=ZoneInfo("UTC"))]
    axes.plot(days, [0, 1])  # type: ignore[arg-type]  # dates are plotted through matplotlib's converters
    axes.set_title("warm-up")
    figure.savefig(io.BytesIO(), format="png")


def tidy_world(env: Any) -> None:
    """Keep a long-running demo as quick as a fresh one: drop SimCord's request log and transcript (tests read
    them; the demo never does, and they grow with every request), then freeze what is left."""
    env.backend.http_requests.clear()
    env.backend.transcript.clear()
    freeze_world()


def freeze_world() -> None:
    """The simulated world and the bot built so far live as long as the demo: keep them out of the
    collector's full passes, which otherwise walk all of it now and then and stall an action (as
    `make run` does with freeze_heap=True)."""
    gc.collect()
    gc.freeze()


def print_banner(url: str, port: int, names: list[str]) -> None:
    lines = [
        "",
        "Stepwise demo is running: the real bot against a simulated Discord, offline.",
        f"  Open: {url}",
        f"  Over SSH: ssh -L {port}:127.0.0.1:{port} <this-host>, then open the same URL on your machine.",
        f"  Members you can act as ('Viewing as'): {', '.join(names[:6])} and {len(names) - 6} more "
        "(ada is an admin).",
        "  Type / in the message box: try /plan step 57, /progress, /leaderboard, /done, /help.",
        "  Time stands still until you move it: /demo advance hours:24 brings reminder DMs (see them with "
        "/demo dm), the 18:00 leaderboard post and milestone announcements.",
        "  The URL carries a secret after '#': keep it private. Stop with Ctrl+C or 'End preview session'.",
        "",
    ]
    print("\n".join(lines), flush=True)
