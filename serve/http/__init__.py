"""What every Marquee application shares: errors, auth, limits, middleware."""
