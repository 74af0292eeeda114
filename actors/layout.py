"""Auditorium layouts: the text grammar of `shared/API.md` parsed into seats.

One string per row, screen side first: `S` standard, `P` premium, `W` wheelchair
space, `C` companion seat, `.` gap or aisle. Rows are lettered from the front and
seats numbered from 1, left to right, counting seats only, so `F7` is the seventh
seat of the sixth row.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from actors.errors import InvalidLayout

MAX_ROWS = 100
MAX_ROW_WIDTH = 200


class SeatCategory(enum.StrEnum):
    STANDARD = "standard"
    PREMIUM = "premium"
    WHEELCHAIR = "wheelchair"
    COMPANION = "companion"


_CATEGORY_BY_SYMBOL = {
    "S": SeatCategory.STANDARD,
    "P": SeatCategory.PREMIUM,
    "W": SeatCategory.WHEELCHAIR,
    "C": SeatCategory.COMPANION,
}
_GAP = "."


@dataclass(frozen=True, slots=True)
class Seat:
    """One seat. `index` orders seats front to back, left to right."""

    index: int
    label: str
    row_index: int
    row_label: str
    number: int
    column: int
    category: SeatCategory
    # Seats with the same block id stand side by side with no gap between them.
    block_id: int


@dataclass(frozen=True, slots=True)
class Row:
    index: int
    label: str
    seats: tuple[Seat, ...]


@dataclass(frozen=True, slots=True)
class Layout:
    rows: tuple[Row, ...]
    seats: tuple[Seat, ...]
    # Each block lists the indexes of side-by-side seats, left to right.
    blocks: tuple[tuple[int, ...], ...]
    width: int

    def seat_by_label(self) -> dict[str, Seat]:
        return {seat.label: seat for seat in self.seats}


def row_label(row_index: int) -> str:
    """A, B, ..., Z, AA, AB, ... like spreadsheet columns."""
    label = ""
    number = row_index + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        label = chr(ord("A") + remainder) + label
    return label


def parse_layout(rows: Sequence[str]) -> Layout:
    """Parse layout rows into seats, or raise `InvalidLayout` naming the fault."""
    if isinstance(rows, str):
        raise InvalidLayout("A layout is a list of row strings, not one string")
    if not rows:
        raise InvalidLayout("A layout needs at least one row")
    if len(rows) > MAX_ROWS:
        raise InvalidLayout(f"A layout has at most {MAX_ROWS} rows, got {len(rows)}")

    parsed_rows: list[Row] = []
    seats: list[Seat] = []
    blocks: list[tuple[int, ...]] = []
    for row_index, text in enumerate(rows):
        label = row_label(row_index)
        if not isinstance(text, str):
            raise InvalidLayout(f"Row {label} is not a string", row=label)
        if len(text) > MAX_ROW_WIDTH:
            raise InvalidLayout(
                f"Row {label} is wider than {MAX_ROW_WIDTH} places", row=label
            )
        row_seats: list[Seat] = []
        current_block: list[int] = []
        for column, symbol in enumerate(text):
            if symbol == _GAP:
                if current_block:
                    blocks.append(tuple(current_block))
                    current_block = []
                continue
            category = _CATEGORY_BY_SYMBOL.get(symbol)
            if category is None:
                raise InvalidLayout(
                    f"Row {label}, place {column + 1}: {symbol!r} is not one of "
                    "S, P, W, C or '.'",
                    row=label,
                )
            seat = Seat(
                index=len(seats),
                label=f"{label}{len(row_seats) + 1}",
                row_index=row_index,
                row_label=label,
                number=len(row_seats) + 1,
                column=column,
                category=category,
                block_id=len(blocks),
            )
            seats.append(seat)
            row_seats.append(seat)
            current_block.append(seat.index)
        if current_block:
            blocks.append(tuple(current_block))
        if not row_seats:
            raise InvalidLayout(f"Row {label} has no seats", row=label)
        parsed_rows.append(Row(index=row_index, label=label, seats=tuple(row_seats)))

    return Layout(
        rows=tuple(parsed_rows),
        seats=tuple(seats),
        blocks=tuple(blocks),
        width=max(len(text) for text in rows),
    )
