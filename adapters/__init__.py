"""Front ends: the command line, the local web channel, Slack and Teams. Only these know a platform."""
