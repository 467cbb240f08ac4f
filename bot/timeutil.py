"""Moved to `bot.domain.timeutil`; this name stays so that older imports keep working."""

import sys

from bot.domain import timeutil as _moved

sys.modules[__name__] = _moved
