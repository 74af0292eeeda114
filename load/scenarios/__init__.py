"""Load scenarios: browse, rush, mixed traffic and abandoners."""
