"""`python -m openkling` runs the command line."""

from .cli import main

main()
