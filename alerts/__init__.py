"""Alerts: one summary per event, delivered once to each matching subscriber, and feeds."""
