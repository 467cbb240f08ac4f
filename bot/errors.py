"""Moved to `bot.domain.errors`; this name stays so that older imports keep working."""

import sys

from bot.domain import errors as _moved

sys.modules[__name__] = _moved
