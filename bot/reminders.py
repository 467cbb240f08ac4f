"""Moved to `bot.domain.reminders`; this name stays so that older imports keep working."""

import sys

from bot.domain import reminders as _moved

sys.modules[__name__] = _moved
