"""Moved to `bot.domain.stats`; this name stays so that older imports keep working."""

import sys

from bot.domain import stats as _moved

sys.modules[__name__] = _moved
