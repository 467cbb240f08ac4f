"""Moved to `bot.domain.marking`; this name stays so that older imports keep working."""

import sys

from bot.domain import marking as _moved

sys.modules[__name__] = _moved
