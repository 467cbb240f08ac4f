"""Discord rendering: embeds, views, dynamic buttons, charts, names. Imports no store."""
