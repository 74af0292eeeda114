"""The booking application: seat maps and holds, through the showtime actors."""
