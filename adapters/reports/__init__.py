"""The manager's report (`bot.report`) in words: terminal tables, CSV rows, and a self-contained page."""
