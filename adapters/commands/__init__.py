"""One module per `supportbot` subcommand."""
