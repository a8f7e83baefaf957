"""covering indexes for the e-certificate rules at millions of rows; 16 MiB attachments on MySQL

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stg_bdc_zs") as batch:
        batch.drop_index("ix_stg_bdc_zs_norm")
        batch.drop_index("ix_stg_bdc_zs_szsj")
        batch.drop_index("ix_stg_bdc_zs_zxsj")
        batch.create_index("ix_stg_bdc_zs_norm_szsj", ["bdcqzh_norm", "szsj"])
        batch.create_index("ix_stg_bdc_zs_szsj_norm", ["szsj", "bdcqzh_norm"])
        batch.create_index("ix_stg_bdc_zs_zxsj_norm", ["zxsj", "bdcqzh_norm"])
    with op.batch_alter_table("stg_bdc_dzzz_zzxx") as batch:
        batch.drop_index("ix_stg_dzzz_norm")
        batch.create_index("ix_stg_dzzz_norm_asof", ["bdcqzh_norm", "zzbfrq", "zzzt", "zxsj"])
    with op.batch_alter_table("finding") as batch:
        batch.create_index("ix_finding_rule_last_run", ["rule_code", "last_run_id"])
    if op.get_bind().dialect.name in ("mysql", "mariadb"):
        op.alter_column("outbox_attachment", "content", type_=sa.LargeBinary(length=16 * 1024 * 1024),
                        existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("finding") as batch:
        batch.drop_index("ix_finding_rule_last_run")
    with op.batch_alter_table("stg_bdc_dzzz_zzxx") as batch:
        batch.drop_index("ix_stg_dzzz_norm_asof")
        batch.create_index("ix_stg_dzzz_norm", ["bdcqzh_norm"])
    with op.batch_alter_table("stg_bdc_zs") as batch:
        batch.drop_index("ix_stg_bdc_zs_zxsj_norm")
        batch.drop_index("ix_stg_bdc_zs_szsj_norm")
        batch.drop_index("ix_stg_bdc_zs_norm_szsj")
        batch.create_index("ix_stg_bdc_zs_norm", ["bdcqzh_norm"])
        batch.create_index("ix_stg_bdc_zs_zxsj", ["zxsj"])
        batch.create_index("ix_stg_bdc_zs_szsj", ["szsj"])
