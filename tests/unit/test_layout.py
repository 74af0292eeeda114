from __future__ import annotations

import pytest

from actors.errors import InvalidLayout
from actors.layout import SeatCategory, parse_layout, row_label


def test_seats_are_lettered_by_row_and_numbered_counting_seats_only() -> None:
    layout = parse_layout(["SS.SS", "PWC.S"])

    assert [seat.label for seat in layout.seats] == [
        "A1", "A2", "A3", "A4", "B1", "B2", "B3", "B4",
    ]  # fmt: skip
    assert layout.seat_by_label()["A3"].column == 3
    assert [seat.category for seat in layout.rows[1].seats] == [
        SeatCategory.PREMIUM,
        SeatCategory.WHEELCHAIR,
        SeatCategory.COMPANION,
        SeatCategory.STANDARD,
    ]


def test_gaps_split_rows_into_blocks_of_side_by_side_seats() -> None:
    layout = parse_layout(["SS..SSS", "S.S"])

    labels = [[layout.seats[i].label for i in block] for block in layout.blocks]

    assert labels == [["A1", "A2"], ["A3", "A4", "A5"], ["B1"], ["B2"]]
    assert layout.width == 7


@pytest.mark.parametrize(
    ("row_index", "label"),
    [(0, "A"), (25, "Z"), (26, "AA"), (27, "AB"), (51, "AZ"), (52, "BA")],
)
def test_rows_past_z_continue_like_spreadsheet_columns(
    row_index: int, label: str
) -> None:
    assert row_label(row_index) == label


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "at least one row"),
        ("SSSS", "list of row strings"),
        (["SSXS"], r"Row A, place 3: 'X' is not one of"),
        (["SSS", "..."], "Row B has no seats"),
        (["S" * 201], "wider than 200"),
        (["S"] * 101, "at most 100 rows"),
    ],
)
def test_invalid_layouts_are_refused_with_the_fault_named(
    rows: list[str], message: str
) -> None:
    with pytest.raises(InvalidLayout, match=message):
        parse_layout(rows)
