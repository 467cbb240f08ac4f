"""Moved to `bot.domain.plan`; this name stays so that older imports keep working."""

import sys

from bot.domain import plan as _moved

sys.modules[__name__] = _moved
