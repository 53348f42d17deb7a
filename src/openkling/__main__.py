"""`python -m openkling` runs the command line."""

from .cli.main import main

main()
