"""Placeholder during development: the owner replaces this file (registers its subcommands)."""


def register(subparsers) -> None:  # noqa: D103
    return None
