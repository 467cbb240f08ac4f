"""Tracks: the plans a server offers (the bundled plan, plan 0, and the plans its admins uploaded). Pure rules.

A member follows one track at a time. The store keeps the current track's progress in the live tables and the
others' parked; ranking keys carry the track (`track_key`), so each track has its own leaderboards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.domain.errors import UserError
from bot.domain.insights import escape_text
from bot.domain.plan import Plan

BUNDLED = 0  # plan id of the bundled plan: every server has it, nobody needs to upload it


def track_key(key: str, plan_id: int) -> str:
    """The ranking key of a period ('all', '2026-W05', '2026-02') on a track: plan 0 keeps the key as it is, so a
    server that never uploads a plan stores exactly what it did before tracks."""
    return key if plan_id == BUNDLED else f"{key}@{plan_id}"


@dataclass(frozen=True, slots=True)
class Track:
    plan_id: int
    name: str
    plan: Plan
    version: int = 1
    uploaded_at: datetime | None = None

    @property
    def bundled(self) -> bool:
        return self.plan_id == BUNDLED

    @property
    def label(self) -> str:
        """How replies name the track: its name, with the plan's title when they differ."""
        return self.name if self.name.casefold() == self.plan.title.casefold() else f"{self.name} ({self.plan.title})"


class TrackUnavailable(UserError):
    """The member's track cannot be used: its stored plan no longer parses, or it was removed while they were
    on it. Nothing is shown or changed on another plan instead (the member's live progress is that track's);
    `/track switch` still works, and an admin repairs an unreadable plan by uploading it again."""

    def __init__(self, plan_id: int, name: str, *, removed: bool = False) -> None:
        self.plan_id, self.name, self.removed = plan_id, name, removed
        shown = escape_text(name)  # a name an admin typed, as text
        if removed:
            message = (f"Your track **{shown}** was removed from this server. Your progress on it is kept. Pick "
                       "another one with `/track switch` (`/track list` shows them).")
        else:
            message = (f"Your track **{shown}** can't be read right now (its stored plan is damaged), so I can't "
                       "show or change your steps on it. Your progress on it is kept. An admin can repair it by "
                       f"uploading the plan again as “{shown}” with `/config plan upload`; meanwhile "
                       "`/track switch` moves you to another track.")
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class TrackStanding:
    """A member's place on one track, for /track list."""

    track: Track
    done: int
    current: bool
    members: int  # members whose current track it is

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.track.plan.total) if self.track.plan.total else 0


def share(done: int, total: int) -> float:
    """Done steps as a fraction of a track's steps (scope:all ranks by it)."""
    return done / total if total else 0.0


MILESTONE_STRIDE = 1000  # a plan has at most 500 phases: milestone keys of track p are p * 1000 + phase


def milestone_key(plan_id: int, phase: int) -> int:
    """The stored key of a milestone (phase number; 0 = the whole plan) on a track: plan 0 keeps the phase
    number as it is, so the milestones and milestone roles of a server without own plans are unchanged."""
    return plan_id * MILESTONE_STRIDE + phase


def milestone_phase(key: int) -> tuple[int, int]:
    """(plan id, phase) of a stored milestone key."""
    return divmod(key, MILESTONE_STRIDE)
