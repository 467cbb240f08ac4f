"""The /insights numbers (bot.domain.insights) against counts made here, member by member, and the nudge rules.

The seeded example builds one record per member (which steps they did or skipped, how many days each took,
which weeks they were active), counts the funnel, the percentiles and the weekly actives by brute force, then
builds the store's summaries from the same records and checks that compute_insights agrees.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from bot.domain.insights import (
    DROPS_SHOWN,
    MIN_TIMED_MEMBERS,
    NONCE_LENGTH,
    NUDGE_EVERY,
    NUDGE_MAX,
    SLOWEST_SHOWN,
    STALLED_AFTER,
    STALLED_SHOWN,
    WEEKS_SHOWN,
    Insights,
    InsightsInput,
    Stalled,
    compute_insights,
    escape_text,
    is_stalled,
    lower_median,
    monday_of,
    nudge_nonce,
    nudge_text,
    p90_nearest_rank,
    should_nudge,
    stalled_cutoff,
)
from bot.domain.plan import Plan, Step, load_plan, parse_plan

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
TODAY = date(2026, 3, 20)  # a Friday
THIS_MONDAY = date(2026, 3, 16)


def plan_of(steps: int) -> Plan:
    return parse_plan("\n".join(f"- [ ] {n}. Topic {n} (Exercise {n})" for n in range(1, steps + 1)))


def inputs(plan: Plan, *, on_step: dict[int, int] | None = None, finished: int = 0,
           durations: dict[int, dict[int, int]] | None = None, weekly: list[tuple[date, int]] | None = None,
           stalled: list[Stalled] | None = None, stalled_total: int | None = None, now: datetime = NOW,
           today: date = TODAY) -> InsightsInput:
    stalled = stalled or []
    return InsightsInput(plan, on_step or {}, finished, durations or {}, weekly or [], stalled,
                         len(stalled) if stalled_total is None else stalled_total, now, today)


# ---------------------------------------------------------------------------------------------- seeded example


@dataclass
class Member:
    user_id: int
    marked: dict[int, str] = field(default_factory=dict)  # step -> "done" / "skipped"
    days: dict[int, int] = field(default_factory=dict)  # step done -> whole days it took
    active: set[date] = field(default_factory=set)  # days they marked something


def members_of(plan: Plan, count: int, seed: int) -> list[Member]:
    """Members who work through the plan in order, some skipping a step, some leaving a later step done out of
    order (a gap: their current step is the gap), each stopping somewhere (or finishing)."""
    rng = random.Random(seed)
    people: list[Member] = []
    for user_id in range(count):
        member = Member(1000 + user_id)
        stop_at = rng.choice([*range(1, plan.total + 1), plan.total + 1, plan.total + 1])
        for step in range(1, stop_at):
            if rng.random() < 0.1:
                member.marked[step] = "skipped"
            else:
                member.marked[step] = "done"
                member.days[step] = rng.choice([0, 1, 1, 2, 3, 5, 8, 13, 30])
        if stop_at <= plan.total - 1 and rng.random() < 0.2:  # did a later step before their current one
            member.marked[stop_at + 1] = "done"
            member.days[stop_at + 1] = rng.randint(0, 4)
        for _ in range(rng.randint(0, 6)):
            member.active.add(TODAY - timedelta(days=rng.randint(0, 130)))
        people.append(member)
    return people


def current_step(plan: Plan, member: Member) -> int | None:
    return next((s.number for s in plan.steps if s.number not in member.marked), None)


def store_summaries(plan: Plan, people: list[Member]) -> InsightsInput:
    """What the store's summary tables hold for these members."""
    on_step: Counter[int] = Counter()
    finished = 0
    durations: dict[int, Counter[int]] = {}
    weekly: dict[date, set[int]] = {}
    for member in people:
        step = current_step(plan, member)
        if step is None:
            finished += 1
        else:
            on_step[step] += 1
        for done, days in member.days.items():
            durations.setdefault(done, Counter())[days] += 1
        for day in member.active:
            weekly.setdefault(day - timedelta(days=day.weekday()), set()).add(member.user_id)
    weeks = sorted((monday, len(ids)) for monday, ids in weekly.items())  # weeks with nobody are missing
    return InsightsInput(plan, dict(on_step), finished, {k: dict(v) for k, v in durations.items()}, weeks, [], 0,
                         NOW, TODAY)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_funnel_matches_a_count_of_the_members(seed: int) -> None:
    plan = load_plan()
    people = members_of(plan, 400, seed)
    result = compute_insights(store_summaries(plan, people))
    assert result.members == len(people)
    assert result.finished == sum(1 for m in people if all(s.number in m.marked for s in plan.steps))
    assert [f.step for f in result.funnel] == list(range(1, plan.total + 1))
    for f in result.funnel:
        # reached k: every step up to k done or skipped (a later step done out of order does not count)
        reached = sum(1 for m in people if all(n in m.marked for n in range(1, f.step + 1)))
        came = sum(1 for m in people if all(n in m.marked for n in range(1, f.step)))
        assert (f.reached, f.drop_from_previous) == (reached, came - reached), f.step
        assert f.share_of_start == pytest.approx(reached / len(people))
        assert f.drop_share == pytest.approx((came - reached) / came if came else 0.0)

    stopped = Counter(current_step(plan, m) for m in people)
    stopped.pop(None, None)
    expected_drops = sorted(stopped.items(), key=lambda kv: (-kv[1], kv[0]))[:DROPS_SHOWN]
    assert [(f.step, f.drop_from_previous) for f in result.biggest_drops] == expected_drops


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_medians_and_90th_percentiles_match_the_expanded_values(seed: int) -> None:
    plan = load_plan()
    people = members_of(plan, 400, seed)
    result = compute_insights(store_summaries(plan, people))
    by_step = {d.step: d for d in result.durations}
    timed = {s.number: sorted(m.days[s.number] for m in people if s.number in m.days) for s in plan.steps}
    assert set(by_step) == {step for step, values in timed.items() if values}
    for step, values in timed.items():
        if not values:
            continue
        n = len(values)
        p90 = values[math.ceil(Fraction(9, 10) * n) - 1]  # nearest rank
        assert (by_step[step].members, by_step[step].median_days, by_step[step].p90_days) == (
            n, statistics.median_low(values), p90), step
        # the same rules by numpy's inverted CDF (the smallest value whose share reaches q)
        assert by_step[step].median_days == int(np.percentile(values, 50, method="inverted_cdf"))
        assert by_step[step].p90_days == int(np.percentile(values, 90, method="inverted_cdf"))

    ranked = sorted((d for d in result.durations if d.members >= MIN_TIMED_MEMBERS),
                    key=lambda d: (-d.median_days, -d.p90_days, d.step))
    assert list(result.slowest) == ranked[:SLOWEST_SHOWN]
    assert result.thin_steps == sum(1 for values in timed.values() if 0 < len(values) < MIN_TIMED_MEMBERS)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weekly_actives_match_distinct_members_per_week(seed: int) -> None:
    plan = load_plan()
    people = members_of(plan, 400, seed)
    result = compute_insights(store_summaries(plan, people))
    assert len(result.weeks) == WEEKS_SHOWN
    for i, week in enumerate(result.weeks):
        assert week.start == THIS_MONDAY - timedelta(weeks=WEEKS_SHOWN - 1 - i)
        assert week.active == sum(1 for m in people
                                  if any(week.start <= d < week.start + timedelta(days=7) for d in m.active))


# ---------------------------------------------------------------------------------------------- percentiles


def test_the_lower_median_takes_the_smaller_middle_value_of_an_even_count() -> None:
    assert lower_median({1: 1, 5: 1}) == 1
    assert lower_median({2: 2, 9: 2}) == 2
    assert lower_median({2: 2, 9: 3}) == 9  # five values: the third
    assert lower_median({0: 1}) == 0


def test_the_90th_percentile_is_the_nearest_rank() -> None:
    ten = dict.fromkeys(range(1, 11), 1)
    assert p90_nearest_rank(ten) == 9  # rank ceil(9.0) = 9
    assert p90_nearest_rank(dict.fromkeys(range(1, 12), 1)) == 10  # rank ceil(9.9) = 10
    assert p90_nearest_rank({4: 1}) == 4
    assert p90_nearest_rank({1: 89, 50: 11}) == 50  # rank 90 of 100
    assert p90_nearest_rank({1: 90, 50: 10}) == 1


def test_empty_and_nonsense_bins_are_ignored_and_an_empty_histogram_has_no_percentile() -> None:
    assert lower_median({3: 2, 7: 0, -4: 5, 100: -1}) == 3
    with pytest.raises(ValueError, match="empty"):
        lower_median({5: 0})


def test_histograms_of_a_billion_members_take_no_pass_per_member() -> None:
    plan = plan_of(3)
    huge = 10**12
    result = compute_insights(inputs(plan, on_step={1: huge, 3: huge}, finished=huge,
                                     durations={1: {0: 5 * huge, 7: 4 * huge, 30: huge}, 2: {2: huge}}))
    assert [f.reached for f in result.funnel] == [2 * huge, 2 * huge, huge]
    assert [(d.median_days, d.p90_days) for d in result.durations] == [(0, 7), (2, 2)]


# ---------------------------------------------------------------------------------------------- edge cases


def test_a_track_nobody_follows_has_an_empty_funnel_and_twelve_empty_weeks() -> None:
    result = compute_insights(inputs(plan_of(5)))
    assert result.members == result.finished == 0
    assert [(f.reached, f.share_of_start, f.drop_from_previous, f.drop_share) for f in result.funnel] == [
        (0, 0.0, 0, 0.0)] * 5
    assert result.biggest_drops == result.durations == result.slowest == ()
    assert [w.active for w in result.weeks] == [0] * WEEKS_SHOWN
    assert result.stalled.total == 0
    assert result.stalled.shown == ()


def test_one_member_on_the_first_step() -> None:
    result = compute_insights(inputs(plan_of(4), on_step={1: 1}))
    assert [f.reached for f in result.funnel] == [0, 0, 0, 0]
    assert [(f.step, f.drop_from_previous, f.drop_share) for f in result.biggest_drops] == [(1, 1, 1.0)]


def test_one_member_timed_once_is_listed_but_never_ranked() -> None:
    result = compute_insights(inputs(plan_of(4), on_step={2: 1}, durations={1: {6: 1}}))
    assert [(d.step, d.members, d.median_days, d.p90_days) for d in result.durations] == [(1, 1, 6, 6)]
    assert result.slowest == ()
    assert result.thin_steps == 1


def test_everybody_finished_means_no_drops() -> None:
    result = compute_insights(inputs(plan_of(6), finished=25))
    assert [(f.reached, f.share_of_start) for f in result.funnel] == [(25, 1.0)] * 6
    assert result.biggest_drops == ()


def test_a_one_step_plan() -> None:
    result = compute_insights(inputs(plan_of(1), on_step={1: 3}, finished=1, durations={1: {2: 1}}))
    assert [(f.step, f.reached, f.drop_from_previous) for f in result.funnel] == [(1, 1, 3)]
    assert [f.step for f in result.biggest_drops] == [1]


def test_five_hundred_steps() -> None:
    plan = plan_of(500)
    on_step = {k: k % 7 for k in range(1, 501)}
    durations = {k: {k % 11: 3, k % 13 + 20: 1} for k in range(1, 501)}
    result = compute_insights(inputs(plan, on_step=on_step, finished=9, durations=durations))
    assert len(result.funnel) == 500
    assert result.funnel[-1].reached == 9
    assert result.funnel[0].reached == result.members - on_step[1]
    assert all(a.reached >= b.reached for a, b in zip(result.funnel, result.funnel[1:], strict=False))
    assert len(result.slowest) == SLOWEST_SHOWN
    assert [f.drop_from_previous for f in result.biggest_drops] == [6, 6, 6]
    assert [f.step for f in result.biggest_drops] == [6, 13, 20]  # ties: the earlier step first


def test_slowest_ties_break_on_the_90th_percentile_then_the_step() -> None:
    durations = {1: {5: 3}, 2: {5: 2, 9: 1}, 3: {5: 3}, 4: {9: 3}, 5: {1: 3}, 6: {2: 3}, 7: {3: 3}}
    result = compute_insights(inputs(plan_of(7), on_step={1: 1}, durations=durations))
    assert [d.step for d in result.slowest] == [4, 2, 1, 3, 7]


def test_counts_for_steps_the_plan_no_longer_has() -> None:
    """A plan shortened since: a member past its end has done every step it has; durations of gone steps are
    dropped; nonsense counts are ignored."""
    result = compute_insights(inputs(plan_of(3), on_step={2: 2, 7: 4, 0: 1, 3: -5}, finished=1,
                                     durations={9: {1: 5}, 2: {1: 3}}))
    assert result.finished == 5
    assert result.members == 8
    assert [f.reached for f in result.funnel] == [7, 5, 5]
    assert [f.drop_from_previous for f in result.funnel] == [1, 2, 0]  # step 0 counts as on step 1
    assert [d.step for d in result.durations] == [2]


def test_missing_weeks_are_zero_and_weeks_outside_the_window_are_ignored() -> None:
    weekly = [(THIS_MONDAY, 4), (THIS_MONDAY - timedelta(weeks=3), 7), (THIS_MONDAY - timedelta(weeks=11), 2),
              (THIS_MONDAY - timedelta(weeks=12), 99), (THIS_MONDAY + timedelta(weeks=1), 99)]
    result = compute_insights(inputs(plan_of(2), on_step={1: 1}, weekly=weekly))
    assert [w.active for w in result.weeks] == [2, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 4]
    assert result.weeks[0].start == date(2025, 12, 29)  # across the new year: ISO weeks run on
    assert result.this_week.start == THIS_MONDAY


def test_a_date_inside_a_week_stands_for_its_monday_and_a_repeated_week_keeps_the_larger_count() -> None:
    weekly = [(THIS_MONDAY + timedelta(days=3), 5), (THIS_MONDAY, 3)]
    assert compute_insights(inputs(plan_of(2), weekly=weekly)).this_week.active == 5


@pytest.mark.parametrize(("today", "monday"), [
    (date(2026, 3, 16), date(2026, 3, 16)),  # a Monday is its own week's start
    (date(2026, 3, 22), date(2026, 3, 16)),  # Sunday still belongs to the week that began on Monday
    (date(2026, 3, 23), date(2026, 3, 23)),
])
def test_the_current_week_is_the_week_of_today(today: date, monday: date) -> None:
    result = compute_insights(inputs(plan_of(2), today=today))
    assert result.this_week.start == monday
    assert [w.start for w in result.weeks] == [monday - timedelta(weeks=11 - i) for i in range(12)]


def test_the_week_follows_the_servers_date_not_the_utc_instant() -> None:
    """Sunday 23:30 in UTC is already Monday in Kiritimati (UTC+14) and still Sunday in Honolulu (UTC-10):
    the caller's `today` decides, so a server far from UTC sees its own week."""
    now = datetime(2026, 3, 22, 23, 30, tzinfo=UTC)
    kiritimati = now.astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    honolulu = now.astimezone(ZoneInfo("Pacific/Honolulu")).date()
    assert (kiritimati, honolulu) == (date(2026, 3, 23), date(2026, 3, 22))
    weekly = [(date(2026, 3, 23), 8), (date(2026, 3, 16), 3)]
    ahead = compute_insights(inputs(plan_of(2), weekly=weekly, now=now, today=kiritimati))
    behind = compute_insights(inputs(plan_of(2), weekly=weekly, now=now, today=honolulu))
    assert (ahead.this_week.start, ahead.this_week.active) == (date(2026, 3, 23), 8)
    assert (behind.this_week.start, behind.this_week.active) == (date(2026, 3, 16), 3)
    assert monday_of(kiritimati) == date(2026, 3, 23)


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        inputs(plan_of(1), now=datetime(2026, 3, 20, 12))  # noqa: DTZ001 - the mistake under test


# ---------------------------------------------------------------------------------------------- stalled


def test_stalled_members_longest_first_capped_with_the_whole_count() -> None:
    stalled = [Stalled(5000 + i, i % 4 + 1, NOW - timedelta(days=15 + i, hours=1)) for i in range(40)]
    result = compute_insights(inputs(plan_of(4), on_step={1: 40}, stalled=stalled, stalled_total=321))
    assert result.stalled.total == 321
    assert len(result.stalled.shown) == STALLED_SHOWN
    assert result.stalled.more == 321 - STALLED_SHOWN
    assert [s.user_id for s in result.stalled.shown] == [5039 - i for i in range(STALLED_SHOWN)]
    assert [s.days for s in result.stalled.shown] == [54 - i for i in range(STALLED_SHOWN)]


def test_the_count_is_never_below_the_list() -> None:
    stalled = [Stalled(1, 1, NOW - timedelta(days=20)), Stalled(2, 1, NOW - timedelta(days=30))]
    result = compute_insights(inputs(plan_of(1), on_step={1: 2}, stalled=stalled, stalled_total=0))
    assert result.stalled.total == 2
    assert result.stalled.more == 0


def test_stalled_means_more_than_fourteen_days_on_the_step() -> None:
    assert timedelta(days=14) == STALLED_AFTER
    assert not is_stalled(NOW - timedelta(days=14), NOW)
    assert is_stalled(NOW - timedelta(days=14, seconds=1), NOW)
    assert stalled_cutoff(NOW) == NOW - timedelta(days=14)


# ---------------------------------------------------------------------------------------------- nudges


def test_a_nudge_names_the_step_and_escapes_its_title() -> None:
    step = Step(12, "**Bold** _claims_ `code` ||spoiler|| [link](https://x.test) @everyone <@123456789012345678>",
                "Exercise", 2)
    text = nudge_text(step, "Plan *one*")
    assert text.startswith("Still on step 12, *")
    assert "\\*\\*Bold\\*\\* \\_claims\\_ \\`code\\` \\|\\|spoiler\\|\\| \\[link\\](https://x.test)" in text
    assert "@everyone" not in text
    assert "@\u200beveryone" in text
    assert "<@123456789012345678>" not in text
    assert "*Plan \\*one\\**" in text
    assert "/done step:12" in text
    assert len(text) < NUDGE_MAX


def test_a_nudge_with_enormous_titles_stays_under_discords_limit() -> None:
    text = nudge_text(Step(7, "*" * 5000, "x", 1), "_" * 5000)
    assert len(text) < NUDGE_MAX
    assert text.startswith("Still on step 7, *\\*")


def test_escaped_text_is_on_one_line() -> None:
    assert escape_text("two\nlines\t here") == "two lines here"


def test_the_nudge_nonce_is_one_per_member_and_week() -> None:
    nonce = nudge_nonce(111, 222, THIS_MONDAY)
    assert nonce == nudge_nonce(111, 222, THIS_MONDAY)
    assert len(nonce) <= NONCE_LENGTH
    assert nonce.isascii()
    assert nonce.isalnum()
    assert nonce == nonce.lower()
    assert {nudge_nonce(111, 222, THIS_MONDAY + timedelta(days=d)) for d in range(7)} == {nonce}
    others = {nudge_nonce(111, 222, THIS_MONDAY + timedelta(weeks=1)), nudge_nonce(111, 223, THIS_MONDAY),
              nudge_nonce(112, 222, THIS_MONDAY)}
    assert nonce not in others
    assert len(others) == 3
    assert len({nudge_nonce(1, u, THIS_MONDAY) for u in range(2000)}) == 2000


def test_nudges_come_at_most_once_a_week() -> None:
    assert timedelta(days=7) == NUDGE_EVERY
    assert should_nudge(None, NOW)
    assert not should_nudge(NOW - timedelta(days=6, hours=23), NOW)
    assert should_nudge(NOW - timedelta(days=7), NOW)
    assert not should_nudge(NOW + timedelta(days=30), NOW)  # a stamp from a clock that was ahead
    berlin = NOW.astimezone(ZoneInfo("Europe/Berlin"))
    assert should_nudge(berlin - timedelta(days=8), NOW)  # any zone: instants compare as instants


def test_should_nudge_refuses_naive_datetimes() -> None:
    naive = datetime(2026, 3, 1)  # noqa: DTZ001 - the mistake under test
    with pytest.raises(ValueError, match="aware"):
        should_nudge(naive, NOW)
    with pytest.raises(ValueError, match="aware"):
        should_nudge(None, naive)


def test_insights_is_what_the_renderer_needs() -> None:
    result: Insights = compute_insights(inputs(plan_of(2), on_step={2: 1}))
    assert result.title_of(2) == "Topic 2"
    assert result.title_of(99) == "Step 99"
