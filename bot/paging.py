"""Moved to `bot.domain.paging`; this name stays so that older imports keep working."""

import sys

from bot.domain import paging as _moved

sys.modules[__name__] = _moved
