"""Placeholder for the `cases` subcommand; replaced by its implementation."""

import argparse

from bot.config import Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace, settings: Settings) -> int:
    raise NotImplementedError
