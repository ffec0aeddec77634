"""The store: every line of SQLAlchemy in sendwatch, and the local-authority register."""
