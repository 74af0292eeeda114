"""Payments: providers, the one confirmation flow, and the payments application."""
