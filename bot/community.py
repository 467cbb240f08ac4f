"""Moved to `bot.domain.community`; this name stays so that older imports keep working."""

import sys

from bot.domain import community as _moved

sys.modules[__name__] = _moved
