"""Leaderboard speed with 100,000 members in one server.

Seeds the summary tables directly (executemany), then measures:
- the ranking queries on their own: top 10 and one member's rank, for all time / week / month;
- the same period rank through a join on members.visible instead of the denormalised copy (the road not taken);
- `/leaderboard` end to end through SimCord beside `/help` in the same run.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import discord
import simcord
from discord import app_commands
from sqlalchemy import text

from bench.common import bot_side_timer, print_table, timed
from bot.app import create_bot
from bot.config import Settings
from bot.domain.community import period_storage_key
from db import tables
from db.community import standing, top
from db.database import Database

MEMBERS = 100_000
NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)
RUNS = 300
E2E_RUNS = 200
UTC_ZONE = ZoneInfo("UTC")


async def seed(db: Database, guild_id: int, caller: int, rng: random.Random) -> None:
    """Members with 0–80 steps (2 % hidden), 60 % active this week, 85 % this month."""
    week = period_storage_key(NOW, UTC_ZONE, "week")
    month = period_storage_key(NOW, UTC_ZONE, "month")
    members, periods = [], []
    for i in range(MEMBERS):
        user = caller if i == 0 else 10_000_000 + i
        done = rng.randint(0, 80)
        reached = NOW - timedelta(minutes=rng.randint(0, 60 * 24 * 60))
        visible = 0 if rng.random() < 0.02 else 1
        members.append({"guild_id": guild_id, "user_id": user, "visible": visible, "done_count": done,
                        "reached_at": reached, "created_at": NOW, "current_step": min(done + 1, 81)})
        if done and rng.random() < 0.85:
            month_done = rng.randint(1, min(done, 30))
            periods.append({"guild_id": guild_id, "period": month, "user_id": user, "done_count": month_done,
                            "reached_at": reached, "visible": visible})
            if rng.random() < 0.7:
                periods.append({"guild_id": guild_id, "period": week, "user_id": user,
                                "done_count": rng.randint(1, month_done), "reached_at": reached, "visible": visible})
    async with db.transaction() as conn:  # executemany, the summary tables' triggers keep rank_counts
        await conn.execute(tables.members.insert(), members)
        await conn.execute(tables.period_counts.insert(), periods)
    async with db.transaction() as conn:
        await conn.execute(text("ANALYZE"))


async def rank_by_join(db: Database, guild_id: int, user_id: int, key: str) -> int:
    """A member's period rank filtering hidden members with a join (what the visible copy avoids)."""
    row = await db.fetchone(
        "WITH me AS (SELECT done_count AS d, reached_at AS r FROM period_counts "
        "WHERE guild_id = :g AND period = :p AND user_id = :u) "
        "SELECT (SELECT COUNT(*) FROM period_counts p JOIN members m USING (guild_id, user_id) "
        "WHERE p.guild_id = :g AND p.period = :p AND m.visible = 1 AND (p.done_count > me.d OR "
        "(p.done_count = me.d AND (p.reached_at, p.user_id) < (me.r, :u)))) FROM me",
        {"g": guild_id, "p": key, "u": user_id},
    )
    return int(row[0]) + 1 if row else 0


async def explain(db: Database, sql: str, params: dict[str, object]) -> list[str]:
    if db.dialect == "sqlite":
        return [str(r[3]) for r in await db.fetchall("EXPLAIN QUERY PLAN " + sql, params)]
    return [str(r[0]).strip() for r in await db.fetchall("EXPLAIN " + sql, params)]


async def _order_effect(bot: Any, member: Any, channel: Any) -> None:
    """Diagnostic, after the measurement above (which it does not change): in that loop /leaderboard always runs
    right after /help, whose ephemeral reply SimCord settles for ~51 ms, so aiosqlite's worker thread has been idle.
    Time the bot side of a command right after /help and right after /ping, for /ping, /ping-db (/ping plus one
    `SELECT 1` through aiosqlite) and /leaderboard."""
    rows: list[tuple[str, list[float]]] = []
    for before in ("help", "ping"):
        for name, options in (("ping", {}), ("ping-db", {}), ("leaderboard", {"period": "week"})):
            samples: list[float] = []
            for _ in range(60):
                await member.slash(channel, before)
                with bot_side_timer(bot) as inside:
                    await member.slash(channel, name, **options)
                samples += inside
            rows.append((f"/{name} right after /{before}", samples))
    print_table("Order effect, bot side (diagnostic: the first database hop after an idle spell)", rows,
                baseline="/ping right after /help")


async def main() -> None:
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_path=Path(tmp) / "bench.sqlite3",  # type: ignore[call-arg]
                            database_url=os.environ.get("STEPWISE_BENCH_DATABASE_URL", ""), discord_token=None)
        bot = create_bot(settings, clock=lambda: NOW)

        async def ping(interaction: discord.Interaction) -> None:  # the trivial baseline: no database, one reply
            await interaction.response.send_message("pong")

        async def card(interaction: discord.Interaction) -> None:  # same reply shape as /leaderboard, no database
            embed = discord.Embed(title="Card", description="\n".join(f"`#{i}` <@{i}> · **{i}** steps"
                                                                     for i in range(1, 11)))
            embed.add_field(name="You", value="You are **#1** of 10.")
            view = discord.ui.View(timeout=None)
            for label in ("◀", "1 of 3", "▶"):
                view.add_item(discord.ui.Button(label=label, custom_id=f"bench:{label}"))
            await interaction.response.send_message(embed=embed, view=view)

        async def ping_db(interaction: discord.Interaction) -> None:  # the baseline plus one database hop
            await bot.db.fetchone("SELECT 1")
            await interaction.response.send_message("pong")

        bot.tree.add_command(app_commands.Command(name="ping", description="Benchmark baseline", callback=ping))
        bot.tree.add_command(app_commands.Command(name="ping-db", description="Benchmark baseline", callback=ping_db))
        bot.tree.add_command(app_commands.Command(name="card", description="Benchmark baseline", callback=card))
        env = simcord.Env(bot, shard_count=1)
        await env.start()
        try:
            guild = env.create_guild("Benchmark")
            channel = guild.create_text_channel("study")
            member = guild.add_member(env.create_user("caller"))
            await env.settle()
            await seed(bot.db, guild.id, member.id, rng)
            ids = [10_000_000 + rng.randint(1, MEMBERS - 1) for _ in range(RUNS)]

            rows: list[tuple[str, list[float]]] = []
            for period in ("all", "week", "month"):
                key = period_storage_key(NOW, UTC_ZONE, period)  # type: ignore[arg-type]
                rows.append((f"top 10 ({period})", await timed(RUNS, lambda _i, k=key: top(bot.db, guild.id, k))))
                rows.append((f"one member's rank ({period})",
                             await timed(RUNS, lambda i, k=key: standing(bot.db, guild.id, ids[i], k))))
            week = period_storage_key(NOW, UTC_ZONE, "week")
            assert week is not None
            rows.append(("rank (week) via join on members.visible",
                         await timed(60, lambda i: rank_by_join(bot.db, guild.id, ids[i], week))))
            print_table(f"Ranking queries, {MEMBERS:,} members in one server (targets: top 10 <= 5 ms, "
                        "rank <= 10 ms)", rows)

            print("\nQuery plans:")
            for label, sql, params in (
                ("top 10 all", "SELECT user_id FROM members WHERE guild_id = :g AND visible = 1 AND done_count > 0 "
                 "ORDER BY done_count DESC, reached_at, user_id LIMIT 10", {"g": guild.id}),
                ("top 10 week", "SELECT user_id FROM period_counts WHERE guild_id = :g AND period = :p AND "
                 "visible = 1 ORDER BY done_count DESC, reached_at, user_id LIMIT 10", {"g": guild.id, "p": week}),
            ):
                print(f"  {label}: {' / '.join(await explain(bot.db, sql, params))}")

            ping_samples: list[float] = []
            card_samples: list[float] = []
            help_samples: list[float] = []
            board: dict[str, list[float]] = {"all": [], "week": [], "month": []}
            with bot_side_timer(bot) as inside:
                for i in range(E2E_RUNS):  # interleaved, so drift hits every command alike
                    ping_samples += await timed(1, lambda _i: member.slash(channel, "ping"))
                    card_samples += await timed(1, lambda _i: member.slash(channel, "card"))
                    help_samples += await timed(1, lambda _i: member.slash(channel, "help"))
                    period = ("all", "week", "month")[i % 3]
                    board[period] += await timed(1, lambda _i, p=period: member.slash(channel, "leaderboard",
                                                                                      period=p))
            e2e = [("/ping (trivial: no database)", ping_samples), ("/help", help_samples),
                   ("/card (same embed + buttons, no database)", card_samples)]
            e2e += [(f"/leaderboard period:{p}", s) for p, s in board.items()]
            print_table("End to end through SimCord (target: /leaderboard <= 3x a trivial command)", e2e,
                        baseline="/ping (trivial: no database)")
            pings, cards, helps, boards = inside[0::4], inside[1::4], inside[2::4], inside[3::4]
            print_table("Bot side only (command callback + its REST calls, no SimCord settling)",
                        [("/ping", pings), ("/help", helps), ("/card", cards), ("/leaderboard (all periods)", boards)],
                        baseline="/ping")
            every = statistics.median([s for _, samples in e2e[3:] for s in samples])
            ratios = ", ".join(f"{every / statistics.median(samples):.2f}x {name}" for name, samples in
                               (("/ping", ping_samples), ("/card", card_samples), ("/help", help_samples)))
            print(f"\n/leaderboard median end to end: {ratios}.")
            await _order_effect(bot, member, channel)
        finally:
            await env.shutdown()
            await bot.close()
