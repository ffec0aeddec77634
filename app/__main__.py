"""`python -m app` is the `sendwatch` console script (the daemon starts its children so)."""

from app.cli import main

if __name__ == "__main__":
    main()
