"""What a change does to one member's progress. Pure rules, no Discord, no database.

`plan_changes` takes the member's progress as read and the changes asked for, and decides everything a write
stores: the new step states, the history batch, the member's summary row (done count, when the latest step was
done, the step they are on) and the week and month counts of the periods the change touched, in the member's
server's zone. `move_targets` decides what undo and redo put back from a history batch. db/progress.py reads the
rows into these objects, calls the planner and writes its result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.community import summary_step
from bot.domain.marking import StepDiff
from bot.domain.progress import MemberProgress, Status, StepState
from bot.domain.timeutil import Period, period_key

PERIOD_KINDS: tuple[Period, ...] = ("week", "month")
PERIOD_REACH = timedelta(days=32)  # a week or month is at most 31 days long


@dataclass(frozen=True, slots=True)
class StepChange:
    """Set `step` to `status` (None removes the step's record) with `note`."""

    step: int
    status: Status | None
    note: str | None = None
    done_at: datetime | None = None  # for DONE: when (default: now); kept from import files


@dataclass(frozen=True, slots=True)
class ChangeResult:
    before: MemberProgress
    after: MemberProgress
    changed: tuple[int, ...]  # steps whose stored state actually changed
    plan_id: int = 0  # the track the change was made on (set by the store's write)

    def diffs(self, steps: Iterable[int]) -> list[StepDiff]:
        """Each of `steps` (in order of number) with its status before and after."""
        return [StepDiff(n, self.before.status_of(n), self.after.status_of(n)) for n in sorted(steps)]


@dataclass(frozen=True, slots=True)
class Summary:
    """A member's row for the rankings."""

    done_count: int  # steps done (with or without a known date)
    reached_at: datetime | None  # when the latest dated step was done; None: none
    current_step: int  # see bot.domain.community.summary_step


@dataclass(frozen=True, slots=True)
class PeriodCount:
    """A member's steps done in one local week ('2026-W05') or month ('2026-02')."""

    period: str
    done_count: int  # 0: nothing done in it any more, the stored count goes
    reached_at: datetime | None  # the latest done time in it; None when done_count is 0


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One step of a history batch: its stored state before and after the change."""

    step: int
    before_status: Status | None
    before_note: str | None
    before_done_at: datetime | None
    after_status: Status | None
    after_note: str | None
    after_done_at: datetime | None


@dataclass(frozen=True, slots=True)
class ChangePlan:
    """Everything one write stores; `summary` is None when nothing changed (nothing to store but the member)."""

    result: ChangeResult
    upserts: tuple[StepState, ...]  # in the order of the changes
    deletes: tuple[int, ...]  # steps whose record goes
    history: tuple[HistoryEntry, ...]
    summary: Summary | None
    periods: tuple[PeriodCount, ...]


def utc(instant: datetime) -> datetime:
    """The instant in UTC, as the store keeps it (microseconds); a naive datetime is refused."""
    if instant.tzinfo is None:
        raise ValueError("expected an aware datetime")
    return instant.astimezone(UTC)


def summarize(states: Iterable[StepState]) -> Summary:
    """The summary row of a member with these step states."""
    listed = list(states)
    done = [s for s in listed if s.status is Status.DONE]
    latest = max((s.done_at for s in done if s.done_at), default=None)
    return Summary(len(done), latest, summary_step({s.step: s.status for s in listed}))


def period_counts(touched: Iterable[datetime], done_times: Sequence[datetime], tz: ZoneInfo) -> list[PeriodCount]:
    """The recounted week and month periods (local to `tz`) that the `touched` done times fall in, from all the
    member's `done_times` after the change; months first, then weeks, each in order."""
    moments = list(touched)
    periods = {(kind, period_key(t, tz, kind)) for t in moments for kind in PERIOD_KINDS}
    if not periods:
        return []
    # Only done times within a period's length of a touched one can share its period.
    near = [t for t in done_times if any(abs(t - m) <= PERIOD_REACH for m in moments)]
    keyed = {kind: [(period_key(t, tz, kind), t) for t in near] for kind in PERIOD_KINDS}
    counts: list[PeriodCount] = []
    for kind, period in sorted(periods):
        inside = [t for key, t in keyed[kind] if key == period]
        counts.append(PeriodCount(period, len(inside), max(inside) if inside else None))
    return counts


def plan_changes(before: MemberProgress, changes: Sequence[StepChange], now: datetime, tz: ZoneInfo) -> ChangePlan:
    """What `changes` do to the member's progress `before`, at `now`, in the server's zone `tz`.

    A change that leaves a step as it is (same status, note and done time) is no change. A step marked done keeps
    the done time it has, unless the change brings one (an import); otherwise it is done `now`.
    """
    updated_at = utc(now)
    states = dict(before.states)
    upserts: list[StepState] = []
    deletes: list[int] = []
    history: list[HistoryEntry] = []
    touched_done: list[datetime] = []
    for change in changes:
        old = states.get(change.step)
        done_at: datetime | None = None
        if change.status is Status.DONE:
            done_at = utc(change.done_at or (old.done_at if old and old.status is Status.DONE else None) or now)
        if old is not None and old.status is change.status and old.note == change.note and old.done_at == done_at:
            continue
        if old is None and change.status is None:
            continue
        if change.status is None:
            deletes.append(change.step)
            del states[change.step]
        else:
            state = StepState(change.step, change.status, change.note, updated_at, done_at)
            upserts.append(state)
            states[change.step] = state
        for moment in (old.done_at if old else None, done_at):
            if moment is not None:
                touched_done.append(moment)
        history.append(HistoryEntry(
            change.step, old.status if old else None, old.note if old else None, old.done_at if old else None,
            change.status, change.note, done_at,
        ))
    if not history:
        return ChangePlan(ChangeResult(before, before, ()), (), (), (), None, ())
    summary = summarize(states.values())
    done_times = [s.done_at for s in states.values() if s.status is Status.DONE and s.done_at]
    after = MemberProgress(before.guild_id, before.user_id, states, before.visible)
    return ChangePlan(
        ChangeResult(before, after, tuple(h.step for h in history)),
        tuple(upserts), tuple(deletes), tuple(history), summary,
        tuple(period_counts(touched_done, done_times, tz)),
    )


def move_targets(batch: Sequence[HistoryEntry], *, undo: bool) -> list[StepChange]:
    """The changes that undo a history batch (each step back to its state before the batch's first change of it)
    or redo it (each step to its state after the batch's last change of it). `batch` is in the order written."""
    targets: dict[int, StepChange] = {}
    if undo:
        for entry in reversed(batch):  # the earliest entry of a step is seen last and wins
            targets[entry.step] = StepChange(entry.step, entry.before_status, entry.before_note,
                                             entry.before_done_at)
    else:
        for entry in batch:
            targets[entry.step] = StepChange(entry.step, entry.after_status, entry.after_note, entry.after_done_at)
    return list(targets.values())
