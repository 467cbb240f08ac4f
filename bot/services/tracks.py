"""The tracks a server offers and the one each member follows (`bot.tracks`).

Plan 0 is the bundled plan, every server's and the default; admins add their own (db/tracks.py stores the
Markdown). Parsed plans are cached per (server, plan, version): a command reads one small row (the member's
track and its version) and parses a plan only the first time this process sees that version, so several
processes sharing a database see an update at their next command.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.errors import UserError
from bot.domain.insights import escape_text
from bot.domain.plan import Plan, PlanError, parse_plan
from bot.domain.plan_upload import name_key
from bot.domain.tracks import BUNDLED, Track, TrackStanding, TrackUnavailable
from db import progress as progress_db
from db import tracks as tracks_db
from db.database import Database

log = logging.getLogger(__name__)

CACHE_SIZE = 256  # parsed plans kept (a plan of 500 steps is ~200 KB parsed)


class TrackCatalog:
    def __init__(self, db: Database, bundled: Plan) -> None:
        self.db = db
        self.bundled = Track(BUNDLED, bundled.title, bundled)
        self._plans: OrderedDict[tuple[int, int, int], Plan] = OrderedDict()

    # ------------------------------------------------------------------ reading

    def _cached(self, guild_id: int, plan_id: int, version: int) -> Plan | None:
        key = (guild_id, plan_id, version)
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
        return plan

    def _remember(self, guild_id: int, plan_id: int, version: int, plan: Plan) -> None:
        self._plans[(guild_id, plan_id, version)] = plan
        while len(self._plans) > CACHE_SIZE:
            self._plans.popitem(last=False)

    def _track(self, guild_id: int, row: tracks_db.PlanRow) -> Track | None:
        plan = self._cached(guild_id, row.plan_id, row.version)
        if plan is None:
            try:
                plan = parse_plan(row.source)
            except PlanError as error:  # stored by an older version or edited by hand: left out, logged
                log.warning("plan %s (%r) of guild %s cannot be read: %s", row.plan_id, row.name, guild_id, error)
                return None
            self._remember(guild_id, row.plan_id, row.version, plan)
        return Track(row.plan_id, row.name, plan, row.version, row.uploaded_at)

    async def get(self, guild_id: int, plan_id: int) -> Track | None:
        """The track, or None when the server has no such plan (removed, unreadable)."""
        if plan_id == BUNDLED:
            return self.bundled
        row = await tracks_db.get_plan(self.db, guild_id, plan_id)
        if row is None or row.removed_at is not None:
            return None
        return self._track(guild_id, row)

    async def tracks(self, guild_id: int) -> list[Track]:
        """Every track the server offers: the bundled plan first, then its own plans, oldest first."""
        found = [self.bundled]
        for row in await tracks_db.list_plans(self.db, guild_id):
            track = self._track(guild_id, row)
            if track is not None:
                found.append(track)
        return found

    async def has_own(self, guild_id: int) -> bool:
        return bool(await tracks_db.plan_versions(self.db, guild_id))

    async def current(self, guild_id: int | None, user_id: int) -> Track:
        """The member's track (the server's default for someone new). One small read when the plan is cached.

        TrackUnavailable (a UserError) when their track's stored plan cannot be read, or was removed while they
        were on it: their live progress is that track's, so nothing may show or change it as another plan's."""
        if guild_id is None:
            return self.bundled
        plan_id, version, _name = await tracks_db.member_track(self.db, guild_id, user_id)
        if plan_id == BUNDLED:
            return self.bundled
        if version is not None:
            plan = self._cached(guild_id, plan_id, version)
            if plan is not None:
                return Track(plan_id, _name or "", plan, version)
        track = await self.get(guild_id, plan_id)
        if track is not None:
            return track
        raise await self._unavailable(guild_id, plan_id)

    async def _unavailable(self, guild_id: int, plan_id: int) -> TrackUnavailable:
        """Why the plan a member is on cannot be used: removed, or its stored Markdown does not parse."""
        row = await tracks_db.get_plan(self.db, guild_id, plan_id)
        if row is None or row.removed_at is not None:
            return TrackUnavailable(plan_id, row.name if row else "a removed track", removed=True)
        return TrackUnavailable(plan_id, row.name)

    async def unreadable(self, guild_id: int) -> list[tracks_db.PlanRow]:
        """The server's plans (not removed) whose stored Markdown no longer parses, for admins to repair."""
        return [row for row in await tracks_db.list_plans(self.db, guild_id) if self._track(guild_id, row) is None]

    async def default(self, guild_id: int) -> Track:
        return await self.get(guild_id, await tracks_db.default_plan(self.db, guild_id)) or self.bundled

    async def find(self, guild_id: int, name: str) -> Track:
        """The track named `name` (case and spacing ignored), or a UserError listing the ones there are."""
        wanted = name_key(name)
        offered = await self.tracks(guild_id)
        for track in offered:
            if name_key(track.name) == wanted:
                return track
        names = ", ".join(f"**{escape_text(t.name)}**" for t in offered)  # names admins and members typed: text
        raise UserError(f"There is no track called “{escape_text(name[:60])}” here. Tracks: {names}.")

    async def for_members(self, keys: Sequence[tuple[int, int]]
                          ) -> dict[tuple[int, int], Track | TrackUnavailable]:
        """(guild, user) -> the member's track, for many members at once (the reminder tick): one query per
        server, plans read once per (server, plan). For a member whose track cannot be read or was removed, the
        TrackUnavailable that `current` raises for them."""
        stored = await tracks_db.member_plans(self.db, keys)
        resolved: dict[tuple[int, int], Track | TrackUnavailable] = {}
        found: dict[tuple[int, int], Track | TrackUnavailable] = {}
        defaults: dict[int, int] = {}
        for guild_id, user_id in keys:
            plan_id = stored.get((guild_id, user_id))
            if plan_id is None:
                if guild_id not in defaults:
                    defaults[guild_id] = await tracks_db.default_plan(self.db, guild_id)
                plan_id = defaults[guild_id]
            if (guild_id, plan_id) not in resolved:
                resolved[(guild_id, plan_id)] = (await self.get(guild_id, plan_id)
                                                 or await self._unavailable(guild_id, plan_id))
            found[(guild_id, user_id)] = resolved[(guild_id, plan_id)]
        return found

    # ------------------------------------------------------------------ members

    async def standings(self, guild_id: int, user_id: int) -> tuple[list[TrackStanding], TrackUnavailable | None]:
        """Every track with the member's done steps on it and how many follow it, for /track list; and why the
        member's own track cannot be used, when it cannot (then no track is theirs in the list)."""
        try:
            current_id, problem = (await self.current(guild_id, user_id)).plan_id, None
        except TrackUnavailable as error:
            current_id, problem = error.plan_id, error
        member = await progress_db.load_member(self.db, guild_id, user_id)
        parked = await tracks_db.parked_done(self.db, guild_id, user_id)
        counts = await tracks_db.followers(self.db, guild_id)
        found = []
        for track in await self.tracks(guild_id):
            if track.plan_id == current_id:
                done = sum(1 for n in member.done if n in track.plan)
            else:
                done = sum(1 for n in parked.get(track.plan_id, ()) if n in track.plan)
            found.append(TrackStanding(track, done, track.plan_id == current_id, counts.get(track.plan_id, 0)))
        return found, problem

    async def switch(self, guild_id: int, user_id: int, track: Track, now: datetime, *,
                     default_tz: ZoneInfo) -> bool:
        """Move the member onto `track`; False when they were on it already."""
        return await tracks_db.switch_track(self.db, guild_id, user_id, track.plan_id,
                                            steps=[s.number for s in track.plan.steps], now=now,
                                            default_tz=default_tz,
                                            version=None if track.bundled else track.version)
