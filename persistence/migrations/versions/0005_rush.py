"""Waiting rooms and the client address of each hold.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hold_addresses",
        sa.Column("hold_id", sa.String(length=64), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hold_id", name=op.f("pk_hold_addresses")),
    )
    op.create_index("ix_hold_addresses_address", "hold_addresses", ["client_address"])
    op.create_table(
        "waiting_rooms",
        sa.Column("showtime_id", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("admit_per_minute", sa.Integer(), nullable=False),
        sa.Column("admitted_before_rate", sa.Integer(), nullable=False),
        sa.Column("rate_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["showtime_id"],
            ["showtimes.id"],
            name=op.f("fk_waiting_rooms_showtime_id_showtimes"),
        ),
        sa.PrimaryKeyConstraint("showtime_id", name=op.f("pk_waiting_rooms")),
    )
    op.create_table(
        "waiting_room_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("showtime_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("early", sa.Boolean(), nullable=False),
        sa.Column("draw", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["showtime_id"],
            ["showtimes.id"],
            name=op.f("fk_waiting_room_entries_showtime_id_showtimes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waiting_room_entries")),
        sa.UniqueConstraint("showtime_id", "customer_id", name="uq_waiting_room_entry"),
    )
    op.create_index(
        "ix_waiting_room_entries_order",
        "waiting_room_entries",
        ["showtime_id", "early", "draw"],
    )


def downgrade() -> None:
    op.drop_index("ix_waiting_room_entries_order", table_name="waiting_room_entries")
    op.drop_table("waiting_room_entries")
    op.drop_table("waiting_rooms")
    op.drop_index("ix_hold_addresses_address", table_name="hold_addresses")
    op.drop_table("hold_addresses")
