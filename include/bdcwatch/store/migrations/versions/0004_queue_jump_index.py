"""case and staff rule indexes: queue-jump walk, returns by unit number, time columns

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 02:30:00

CASE_QUEUE_JUMP walks a unit's earlier acceptances backwards from each fast case and stops
at the min_overtaken-th one registered later. With YWH in the key the walk is in the
rule's ORDER BY (slsj DESC, ywh DESC) and can stop early instead of sorting the whole
90-day window; DJDL and QLLX in the index give the limit class without a row lookup.

RETURN_REPEATED looks up earlier returns of the same unit number, MORTGAGE_WHILE_SEALED
seizures of a unit number; registrations, reviews and returns are read by time for a
period (and the staff rules read case steps by time).
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

QUEUE_INDEX_COLUMNS = ["djjg", "slsj", "ywh", "djdl", "qllx"]
PLAIN_INDEXES = {
    "ix_stg_bdc_bysl_bdcdyh_thsj": ("stg_bdc_bysl", ["bdcdyh", "thsj"]),
    "ix_stg_bdc_bysl_thsj": ("stg_bdc_bysl", ["thsj"]),
    "ix_stg_qlf_ql_cfdj_bdcdyh": ("stg_qlf_ql_cfdj", ["bdcdyh"]),
    "ix_stg_djf_dj_db_dbsj": ("stg_djf_dj_db", ["dbsj"]),
    "ix_stg_djt_dj_sl_bdcdyh": ("stg_djt_dj_sl", ["bdcdyh"]),
    "ix_stg_djf_dj_sh_shjssj": ("stg_djf_dj_sh", ["shjssj"]),
    "ix_stg_ry_pxjl_rybh": ("stg_ry_pxjl", ["rybh", "pxrq"]),
}


def upgrade() -> None:
    op.drop_index("ix_stg_djt_dj_sl_djjg_slsj", table_name="stg_djt_dj_sl")
    op.create_index("ix_stg_djt_dj_sl_queue", "stg_djt_dj_sl", QUEUE_INDEX_COLUMNS)
    for name, (table, columns) in PLAIN_INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in PLAIN_INDEXES.items():
        op.drop_index(name, table_name=table)
    op.drop_index("ix_stg_djt_dj_sl_queue", table_name="stg_djt_dj_sl")
    op.create_index("ix_stg_djt_dj_sl_djjg_slsj", "stg_djt_dj_sl", ["djjg", "slsj"])
