"""Moved to `bot.domain.progress`; this name stays so that older imports keep working."""

import sys

from bot.domain import progress as _moved

sys.modules[__name__] = _moved
