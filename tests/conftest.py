"""Shared fixtures. Tests never reach the internet: every platform is a local fake on 127.0.0.1."""
