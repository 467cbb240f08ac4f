"""discord.py extensions: thin command callbacks (validate, call a service or the store, render, respond once)."""
