"""What reminders look like: the DM with its buttons, and the /remind replies."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

import discord

from bot.domain.plan import Plan, Step
from bot.domain.progress import Streak
from bot.domain.reminders import WEEKENDS, DeliveryKind, PauseReason, Reminder, Schedule, format_days
from bot.domain.timeutil import ALL_DAYS, DAY_NAMES, WEEKDAYS
from bot.tree import send_ephemeral
from bot.ui.components import AnsweredButton, AnsweredView
from bot.ui.plan_views import BRAND, SUCCESS, bar, escape

PAUSED = discord.Colour(0xFAA61A)
OFF = discord.Colour(0x747F8D)
Action = Literal["done", "snooze", "skip", "stop"]


def local_label(instant: datetime, schedule: Schedule) -> str:
    """'Mon 5 Jan, 09:00 (Europe/Berlin)'."""
    local = instant.astimezone(schedule.tz)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M} ({schedule.tz.key})"


def when(instant: datetime, schedule: Schedule) -> str:
    """The local time in words and a Discord timestamp that every reader sees in their own zone."""
    return (f"**{local_label(instant, schedule)}** · {discord.utils.format_dt(instant, 'F')} "
            f"({discord.utils.format_dt(instant, 'R')})")


def days_option(days: frozenset[int]) -> str | None:
    """The `days:` value that `parse_days` reads back as exactly these days (None: every day, the default)."""
    if days == ALL_DAYS:
        return None
    if days == WEEKDAYS:
        return "weekdays"
    if days == WEEKENDS:
        return "weekends"
    return ",".join(DAY_NAMES[d] for d in sorted(days))


def example_set(schedule: Schedule | None) -> str:
    """The /remind set command that restores `schedule` as it is: time, zone and days."""
    if schedule is None:
        return "`/remind set time:09:00`"
    days = days_option(schedule.days)
    return (f"`/remind set time:{schedule.at:%H:%M} timezone:{schedule.tz.key}"
            + (f" days:{days}`" if days else "`"))


# ---------------------------------------------------------------------------- the DM


@dataclass(frozen=True, slots=True)
class DmContent:
    guild_id: int
    guild_name: str
    user_id: int
    kind: DeliveryKind
    for_date: date
    schedule: Schedule
    step: Step | None  # None: the member finished the plan
    done: int
    streak: Streak
    plan_id: int = 0  # the member's track (0: the bundled plan)
    track_name: str | None = None  # a server's own plan: named in the DM
    unavailable: str | None = None  # the member's track cannot be used: why (shown instead of a step)


def reminder_dm(plan: Plan, content: DmContent) -> tuple[str, discord.Embed, discord.ui.View]:
    """The reminder DM: names the server, the member's next step, progress, streak, and four buttons."""
    server = escape(content.guild_name)
    lead = {
        DeliveryKind.DAILY: f"⏰ Your daily study reminder for **{server}**",
        DeliveryKind.LATE: f"⏰ Your study reminder for **{server}**, a little late: I was offline at "
                           f"{content.schedule.at:%H:%M}",
        DeliveryKind.SNOOZED: f"⏰ Snoozed reminder for **{server}**: here it is again",
    }[content.kind]
    if content.track_name:
        lead += f" · track **{escape(content.track_name)}**"
    step = content.step
    if content.unavailable is not None:
        embed = discord.Embed(title="⚠️ Your track can't be used right now", colour=PAUSED,
                              description=content.unavailable[:4096])
        embed.set_footer(text=f"{content.guild_name} · {content.schedule.describe()} · "
                              "turn off with /remind off in the server"[:2048])
        return lead, embed, reminder_buttons(content.guild_id, content.user_id, 0, content.for_date,
                                             content.plan_id)
    if step is None:
        embed = discord.Embed(title=f"🎉 You have finished all {plan.total} steps", colour=SUCCESS,
                              description="Nothing left to remind you of. Stop these reminders below, or keep "
                                          "them for the next plan.")
    else:
        phase = plan.phase_of(step.number)
        embed = discord.Embed(title=f"Next up: step {step.number}. {escape(step.title)}"[:256], colour=BRAND,
                              description=f"**Exercise:** {escape(step.exercise)}"[:4096])
        embed.add_field(name="Phase", value=f"{phase.number} · {escape(phase.name)}"[:1024])
    embed.add_field(name="Progress", value=f"{content.done}/{plan.total} {bar(content.done, plan.total)}")
    embed.add_field(name="Streak", value=streak_text(content.streak))
    embed.set_footer(text=f"{content.guild_name} · {content.schedule.describe()} · "
                          "turn off with /remind off in the server"[:2048])
    view = reminder_buttons(content.guild_id, content.user_id, step.number if step else 0, content.for_date,
                            content.plan_id)
    return lead, embed, view


def streak_text(streak: Streak) -> str:
    if streak.current == 0:
        return "No streak yet: finish a step today to start one" if streak.longest == 0 else \
            f"Start a new one today (best: {streak.longest} days)"
    days = f"{streak.current} day{'s' if streak.current != 1 else ''}"
    return f"🔥 {days}" + (f" (best: {streak.longest})" if streak.longest > streak.current else "")


class ReminderButton(AnsweredButton,
                     template=r"sw:rm:(?P<action>done|snooze|skip|stop):(?P<guild>\d+):(?P<user>\d+):(?P<step>\d+):"
                              r"(?P<day>\d{8})(?::p(?P<plan>\d+))?"):
    """A button under a reminder DM. Everything it needs is in its custom id, so it works after restarts."""

    LABELS: ClassVar[dict[str, tuple[str, str, discord.ButtonStyle]]] = {
        "done": ("Mark done", "✅", discord.ButtonStyle.success),
        "snooze": ("Snooze 1 h", "⏰", discord.ButtonStyle.secondary),
        "skip": ("Skip today", "😴", discord.ButtonStyle.secondary),
        "stop": ("Stop reminders", "🔕", discord.ButtonStyle.danger),
    }

    def __init__(self, action: Action, guild_id: int, user_id: int, step: int, day: date, *,
                 plan_id: int = 0) -> None:
        label, emoji, style = self.LABELS[action]
        track = f":p{plan_id}" if plan_id else ""  # buttons of the bundled plan keep the id they always had
        super().__init__(discord.ui.Button(
            custom_id=f"sw:rm:{action}:{guild_id}:{user_id}:{step}:{day:%Y%m%d}{track}", label=label, emoji=emoji,
            style=style))
        self.action: Action = action
        self.guild_id, self.user_id, self.step, self.day = guild_id, user_id, step, day
        self.plan_id = plan_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> ReminderButton:
        day = datetime.strptime(match["day"], "%Y%m%d").date()  # noqa: DTZ007 - a date, no time
        action: Action = match["action"]  # type: ignore[assignment]
        return cls(action, int(match["guild"]), int(match["user"]), int(match["step"]), day,
                   plan_id=int(match["plan"] or 0))

    async def allowed(self, interaction: discord.Interaction, /) -> bool:
        if interaction.user.id != self.user_id:
            await send_ephemeral(interaction, "This reminder belongs to someone else, so its buttons are theirs. "
                                              "Run `/remind set` in your server to get your own.")
            return False
        return True

    async def clicked(self, interaction: discord.Interaction, /) -> None:
        cog: Any = interaction.client.get_cog("Reminders")  # type: ignore[attr-defined]
        if cog is None:
            await send_ephemeral(interaction, "Reminders are not available right now. Try again in a minute.")
            return
        await cog.on_reminder_button(interaction, self)


def reminder_buttons(guild_id: int, user_id: int, step: int, day: date, plan_id: int = 0) -> discord.ui.View:
    view = AnsweredView(timeout=None)
    actions: tuple[Action, ...] = ("done", "snooze", "skip", "stop") if step else ("snooze", "skip", "stop")
    for action in actions:
        view.add_item(ReminderButton(action, guild_id, user_id, step, day, plan_id=plan_id))
    return view


def after_press(message: discord.Message | None, line: str, colour: discord.Colour | None = None) -> discord.Embed:
    """The DM's embed with what the press did added on top; the buttons are taken away by the caller."""
    embed = message.embeds[0].copy() if message and message.embeds else discord.Embed(colour=BRAND)
    embed.description = f"{line}\n\n{embed.description or ''}".strip()[:4096]
    if colour is not None:
        embed.colour = colour
    return embed


# ---------------------------------------------------------------------------- /remind replies


def set_embed(reminder: Reminder, guild_name: str) -> discord.Embed:
    schedule = reminder.schedule
    embed = discord.Embed(
        title="⏰ Daily reminder set",
        colour=SUCCESS,
        description=(f"I'll DM you at **{schedule.at:%H:%M}** ({schedule.tz.key}), **{format_days(schedule.days)}**, "
                     f"with your next step in {escape(guild_name)}."),
    )
    if reminder.next_due is not None:
        embed.add_field(name="Next reminder", value=when(reminder.next_due, schedule), inline=False)
    embed.set_footer(text="Allow direct messages from this server's members so the reminder reaches you. "
                          "Change it with /remind set, stop it with /remind off.")
    return embed


def status_embed(reminder: Reminder | None, guild_name: str) -> discord.Embed:
    if reminder is None:
        return discord.Embed(
            title="No reminder yet", colour=OFF,
            description=(f"Get one DM a day with your next step in {escape(guild_name)}: "
                         "`/remind set time:09:00` (add `timezone:` and `days:weekdays` if you like)."))
    schedule = reminder.schedule
    setting = f"**{schedule.at:%H:%M}** ({schedule.tz.key}), **{format_days(schedule.days)}**"
    if reminder.paused is not None:
        embed = discord.Embed(title="⏸️ Reminders paused", colour=PAUSED,
                              description=f"{pause_reason_text(reminder)}\n\n{pause_fix_text(reminder)}")
        embed.add_field(name="Your setting", value=setting, inline=False)
        return embed
    if not reminder.enabled or reminder.next_due is None:
        return discord.Embed(title="🔕 Reminders are off", colour=OFF,
                             description=f"Your setting is kept: {setting}.\nTurn them back on with "
                                         f"{example_set(schedule)}.")
    embed = discord.Embed(title="⏰ Daily reminder on", colour=BRAND, description=setting)
    embed.add_field(name="Next reminder", value=when(reminder.next_due, schedule), inline=False)
    if reminder.snooze_until is not None and reminder.snooze_until == reminder.next_due:
        embed.add_field(name="Snoozed", value="That one is a snoozed reminder from the button in my DM.",
                        inline=False)
    embed.set_footer(text="Change it with /remind set, stop it with /remind off.")
    return embed


def pause_reason_text(reminder: Reminder) -> str:
    since = f" since {discord.utils.format_dt(reminder.paused_at, 'f')}" if reminder.paused_at else ""
    if reminder.paused is PauseReason.DMS_CLOSED:
        return f"I could not send you a direct message{since}: Discord says you do not accept DMs from me."
    if reminder.paused is PauseReason.LEFT_SERVER:
        return f"Paused{since}: you were no longer a member of this server."
    if reminder.paused is PauseReason.UNREADABLE:
        return (f"Paused{since}: I could not build your reminder from your saved progress (a stored date or "
                "value I cannot read, for example a done date far in the past).")
    return f"Your reminders are paused{since}."


def pause_fix_text(reminder: Reminder) -> str:
    if reminder.paused is PauseReason.LEFT_SERVER:
        return f"**To turn them back on:** run {example_set(reminder.schedule)} here. Your setting is kept."
    if reminder.paused is PauseReason.UNREADABLE:
        return ("**To fix it:** check your progress with `/progress` and correct or re-import the odd date "
                f"(`/data export`, then `/data import`), then run {example_set(reminder.schedule)}.")
    return ("**To fix it:** open this server's menu → **Privacy Settings** → turn on **Direct Messages** "
            f"(or allow DMs in User Settings → Privacy & Safety), then run {example_set(reminder.schedule)} "
            "to turn reminders back on.")


def left_server_line(guild_name: str) -> str:
    """A reminder button pressed by someone no longer in the server: nothing was written."""
    return (f"🚪 You are no longer a member of **{escape(guild_name)}**, so this button does nothing there and "
            "your reminders for it are paused (your setting and progress are kept). If you rejoin, run "
            "`/remind set` there to get them again.")


SERVER_GONE_LINE = ("🚪 I am no longer in that server, so this button does nothing and its reminders have "
                    "stopped. Your progress there is kept.")

MEMBERSHIP_UNKNOWN = ("I could not check with Discord that you are still a member of that server, so I did not "
                      "change anything. Try the button again in a minute.")


def pause_notice(reminder: Reminder, guild_name: str) -> str:
    """The one-time ephemeral note after a command, for a member whose reminders were paused."""
    return (f"⏸️ Your daily reminders in {escape(guild_name)} are paused. {pause_reason_text(reminder)}\n"
            f"{pause_fix_text(reminder)}")
