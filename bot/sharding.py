"""Moved to `bot.domain.sharding`; this name stays so that older imports keep working."""

import sys

from bot.domain import sharding as _moved

sys.modules[__name__] = _moved
