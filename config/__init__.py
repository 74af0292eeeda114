"""Marquee's settings: one object, read from the environment and an optional `.env`."""

from config.settings import Environment, Settings, get_settings

__all__ = ["Environment", "Settings", "get_settings"]
