"""The domain floor: pure rules (plan, progress and what a change does to it, streaks and pace, ranking, reminder
schedules and delivery decisions, export format, time arithmetic). No discord, no database driver, no store:
checked by import-linter."""
