"""Every persistent component, registered in one place at start-up (`StepwiseBot.setup_hook` calls this).

A button that outlives restarts works only if its class is registered with the client, whatever cogs are
loaded: the leaderboard's page buttons must not depend on the plan cog, nor a DM's buttons on a cog having
loaded before the first click. A button whose feature is unavailable answers so (see each `clicked`).
"""

from __future__ import annotations

import secrets

import discord

from bot.ui.pager import PageButton
from bot.ui.plan_views import StepNavButton
from bot.ui.progress_views import ConfirmView, LostConfirmation
from bot.ui.reminders import ReminderButton

DYNAMIC_ITEMS = (PageButton, StepNavButton, ReminderButton, LostConfirmation)


def register_components(bot: discord.Client) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    ConfirmView.session = secrets.token_hex(4)  # confirmations made before this start answer as lost
