"""The terminal front end: `python -m bot chat` talks to the same `SupportBot` as Slack, Teams and the web chat."""
