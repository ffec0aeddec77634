"""`python -m sendwatch` is the `sendwatch` console script."""

from sendwatch.cli import main

main()
