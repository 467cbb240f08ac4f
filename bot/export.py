"""Moved to `bot.domain.export`; this name stays so that older imports keep working."""

import sys

from bot.domain import export as _moved

sys.modules[__name__] = _moved
