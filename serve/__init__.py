"""Marquee's network face: the launcher and, on Ray Serve, the HTTP applications."""
