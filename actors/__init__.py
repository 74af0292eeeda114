"""Showtime actors: the seat-map rules, the engine that makes them durable, and
the Ray actor that gives each showtime one serialised owner."""
