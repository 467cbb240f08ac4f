"""Admins' plans: upload (new or a new version), list, default, remove. Validation is bot.domain.plan_upload's;
this module decides what an upload means for the server (a new track or an update, what it changes, whom it
touches) and stores it only on confirmation, checking again that nothing changed since the preview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.errors import UserError
from bot.domain.plan import Plan
from bot.domain.plan_upload import (
    MAX_PLANS,
    MAX_STEPS,
    PlanDiff,
    PlanListing,
    diff_plans,
    name_key,
    validate_name,
    validate_upload,
)
from bot.domain.tracks import Track
from bot.services.tracks import TrackCatalog
from db import tracks as tracks_db
from db.database import Database


@dataclass(frozen=True)
class UploadPreview:
    """What Confirm would store: a new plan (`replaces` None) or a new version of `replaces`."""

    name: str
    plan: Plan
    source: str
    replaces: Track | None
    diff: PlanDiff | None
    affected: int | None  # members with progress on the steps the update removes
    repairs: bool = False  # replaces a stored version that can no longer be read (`diff` is then None)

    @property
    def version(self) -> int:
        return self.replaces.version + 1 if self.replaces else 1


class PlanAdmin:
    def __init__(self, db: Database, tracks: TrackCatalog, default_tz: ZoneInfo) -> None:
        self.db, self.tracks, self.default_tz = db, tracks, default_tz

    async def prepare(self, guild_id: int, name: str, data: bytes, filename: str | None) -> UploadPreview:
        """Validate an uploaded file (raises PlanError with every problem, or UserError) and say what it would do."""
        clean = validate_name(name)
        plan = validate_upload(data, filename)
        source = data.decode("utf-8-sig")
        if name_key(clean) == name_key(self.tracks.bundled.name):
            raise UserError(f"“{clean}” is the name of the plan every server has; give yours another name.")
        existing = next((t for t in await self.tracks.tracks(guild_id)
                         if not t.bundled and name_key(t.name) == name_key(clean)), None)
        if existing is None:
            broken = next((row for row in await self.tracks.unreadable(guild_id)
                           if name_key(row.name) == name_key(clean)), None)
            if broken is not None:  # the same name: a new version repairs it (its old steps are unknown)
                beyond = range(plan.last_number + 1, MAX_STEPS + 1)
                affected = await tracks_db.progress_on_steps(self.db, guild_id, broken.plan_id, beyond)
                replaces = Track(broken.plan_id, broken.name, plan, broken.version, broken.uploaded_at)
                return UploadPreview(broken.name, plan, source, replaces, None, affected, repairs=True)
            if len(await tracks_db.plan_versions(self.db, guild_id)) >= MAX_PLANS:
                raise UserError(f"This server has {MAX_PLANS} plans already, the most it can have: remove one "
                                "first with `/config plan remove`.")
            return UploadPreview(clean, plan, source, None, None, None)
        diff = diff_plans(existing.plan, plan)
        affected = await tracks_db.progress_on_steps(self.db, guild_id, existing.plan_id, diff.removed)
        return UploadPreview(existing.name, plan, source, existing, diff, affected)

    async def store(self, guild_id: int, preview: UploadPreview, now: datetime, by: int) -> tuple[Track, int]:
        """Store what was previewed: (the track, how many members' progress moved)."""
        steps = [s.number for s in preview.plan.steps]
        if preview.replaces is None:
            row = await tracks_db.add_plan(self.db, guild_id, name=preview.name, title=preview.plan.title,
                                           steps=len(steps), source=preview.source, now=now, by=by,
                                           limit=MAX_PLANS)
            moved = 0
        else:
            row, moved = await tracks_db.update_plan(
                self.db, guild_id, preview.replaces.plan_id, expected_version=preview.replaces.version,
                title=preview.plan.title, steps=steps, source=preview.source, now=now, by=by,
                default_tz=self.default_tz)
        track = await self.tracks.get(guild_id, row.plan_id)
        if track is None:  # removed in the instant since: say so rather than pretend
            raise UserError("That plan was removed meanwhile.")
        return track, moved

    async def listing(self, guild_id: int) -> list[PlanListing]:
        """Every plan: the bundled one, the uploaded ones, and those whose stored Markdown can't be read (to
        repair by uploading again under the same name, or to remove)."""
        default = await tracks_db.default_plan(self.db, guild_id)
        counts = await tracks_db.followers(self.db, guild_id)
        found = [PlanListing(name=t.name, version=None if t.bundled else t.version, steps=t.plan.total,
                             members=counts.get(t.plan_id, 0), is_default=t.plan_id == default,
                             uploaded_at=t.uploaded_at, bundled=t.bundled)
                 for t in await self.tracks.tracks(guild_id)]
        found += [PlanListing(name=row.name, version=row.version, steps=row.steps, members=counts.get(row.plan_id, 0),
                              is_default=row.plan_id == default, uploaded_at=row.uploaded_at, bundled=False,
                              unreadable=True)
                  for row in await self.tracks.unreadable(guild_id)]
        return found

    async def set_default(self, guild_id: int, name: str) -> Track:
        track = await self.tracks.find(guild_id, name)
        await tracks_db.set_default_plan(self.db, guild_id, track.plan_id)
        return track

    async def removal(self, guild_id: int, name: str) -> tuple[Track, int, Track]:
        """(the track to remove, how many follow it, where they would go); UserError for the bundled plan.
        A plan whose stored Markdown can't be read can be removed too (only its id and name are used)."""
        try:
            track = await self.tracks.find(guild_id, name)
        except UserError:
            broken = next((row for row in await self.tracks.unreadable(guild_id)
                           if name_key(row.name) == name_key(name)), None)
            if broken is None:
                raise
            track = Track(broken.plan_id, broken.name, self.tracks.bundled.plan, broken.version, broken.uploaded_at)
        if track.bundled:
            raise UserError("The bundled plan cannot be removed; it stays for members who want it. Pick another "
                            "default with `/config plan default` if you'd rather new members start elsewhere.")
        default = await self.tracks.default(guild_id)
        target = self.tracks.bundled if default.plan_id == track.plan_id else default
        followers = (await tracks_db.followers(self.db, guild_id)).get(track.plan_id, 0)
        return track, followers, target

    async def remove(self, guild_id: int, track: Track, target: Track, now: datetime) -> int:
        return await tracks_db.remove_plan(self.db, guild_id, track.plan_id, to_plan=target.plan_id,
                                           to_steps=[s.number for s in target.plan.steps], now=now,
                                           default_tz=self.default_tz)

