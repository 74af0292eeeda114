"""The users application: sign-up, tokens, `me`, roles and API keys."""
