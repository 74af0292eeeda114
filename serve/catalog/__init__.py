"""The catalog application: movies, cinemas, auditoriums and showtimes."""
