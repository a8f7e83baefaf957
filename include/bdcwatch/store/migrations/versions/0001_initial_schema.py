"""initial schema: staging, quarantine, ledger, audit trail, outbox, inspections

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 22:46:44.721659
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_event_id', sa.Integer(), nullable=True),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('finding',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('fingerprint', sa.String(length=400), nullable=False),
    sa.Column('rule_code', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('unit_code', sa.String(length=16), nullable=True),
    sa.Column('subject_type', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.String(length=100), nullable=False),
    sa.Column('period', sa.String(length=40), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('first_detected_at', sa.DateTime(), nullable=False),
    sa.Column('last_detected_at', sa.DateTime(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('dag_id', sa.String(length=100), nullable=False),
    sa.Column('first_run_id', sa.String(length=250), nullable=False),
    sa.Column('last_run_id', sa.String(length=250), nullable=False),
    sa.Column('notified_outbox_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('fingerprint')
    )
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.create_index('ix_finding_first_run', ['first_run_id'], unique=False)
        batch_op.create_index('ix_finding_unit_status', ['unit_code', 'status'], unique=False)

    op.create_table('inspection',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('cycle', sa.String(length=100), nullable=False),
    sa.Column('unit_code', sa.String(length=16), nullable=False),
    sa.Column('period', sa.String(length=40), nullable=False),
    sa.Column('population_size', sa.Integer(), nullable=False),
    sa.Column('sample_size', sa.Integer(), nullable=False),
    sa.Column('findings_count', sa.Integer(), nullable=False),
    sa.Column('seed', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cycle', 'unit_code', 'period', name='uq_inspection_cycle_unit_period')
    )
    op.create_table('load_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('load_id', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=True),
    sa.Column('source_table', sa.String(length=40), nullable=False),
    sa.Column('full_scan', sa.SmallInteger(), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_loaded', sa.Integer(), nullable=False),
    sa.Column('rows_quarantined', sa.Integer(), nullable=False),
    sa.Column('rows_deleted', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('dedup_key', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('dag_id', sa.String(length=100), nullable=False),
    sa.Column('run_id', sa.String(length=250), nullable=True),
    sa.Column('period', sa.String(length=40), nullable=True),
    sa.Column('unit_code', sa.String(length=16), nullable=True),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('html', sa.Text(), nullable=False),
    sa.Column('message_id', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedup_key')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_status', ['status'], unique=False)

    op.create_table('quarantine',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source_table', sa.String(length=40), nullable=False),
    sa.Column('row_key', sa.String(length=200), nullable=False),
    sa.Column('column_name', sa.String(length=40), nullable=False),
    sa.Column('expectation', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('row_json', sa.Text(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_load_id', sa.String(length=64), nullable=False),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_table', 'row_key', 'column_name', 'expectation', name='uq_quarantine_row')
    )
    op.create_table('stg_bdc_bysl',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('ywh', sa.String(length=32), nullable=False),
    sa.Column('bdcdyh', sa.String(length=28), nullable=True),
    sa.Column('thsj', sa.DateTime(), nullable=False),
    sa.Column('thyydm', sa.String(length=8), nullable=True),
    sa.Column('thyy', sa.String(length=500), nullable=True),
    sa.Column('czrybh', sa.String(length=32), nullable=True),
    sa.Column('gxsj', sa.DateTime(), nullable=False),
    sa.Column('_load_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('stg_bdc_dzzz_zzxx',
    sa.Column('zzid', sa.String(length=40), nullable=False),
    sa.Column('zzbs', sa.String(length=80), nullable=False),
    sa.Column('zzbs_problem', sa.String(length=200), nullable=True),
    sa.Column('zzlxdm', sa.String(length=24), nullable=False),
    sa.Column('bdcqzh', sa.String(length=64), nullable=False),
    sa.Column('bdcqzh_norm', sa.String(length=64), nullable=False),
    sa.Column('bdcdyh', sa.String(length=28), nullable=True),
    sa.Column('czzt', sa.String(length=200), nullable=True),
    sa.Column('holders_norm', sa.String(length=200), nullable=False),
    sa.Column('zzbfjgdm', sa.String(length=16), nullable=True),
    sa.Column('zzbfrq', sa.DateTime(), nullable=False),
    sa.Column('zzzt', sa.SmallInteger(), nullable=False),
    sa.Column('zxsj', sa.DateTime(), nullable=True),
    sa.Column('zxyy', sa.SmallInteger(), nullable=True),
    sa.Column('gxsj', sa.DateTime(), nullable=False),
    sa.Column('_load_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('zzid')
    )
    with op.batch_alter_table('stg_bdc_dzzz_zzxx', schema=None) as batch_op:
        batch_op.create_index('ix_stg_dzzz_norm', ['bdcqzh_norm'], unique=False)
        batch_op.create_index('ix_stg_dzzz_zzbfrq', ['zzbfrq'], unique=False)

    op.create_table('stg_bdc_zs',
    sa.Column('zsid', sa.String(length=40), nullable=False),
    sa.Column('ywh', sa.String(length=32), nullable=False),
    sa.Column('zslx', sa.SmallInteger(), nullable=False),
    sa.Column('bdcqzh', sa.String(length=64), nullable=False),
    sa.Column('bdcqzh_norm', sa.String(length=64), nullable=False),
    sa.Column('ysxlh', sa.String(length=20), nullable=True),
    sa.Column('bdcdyh', sa.String(length=28), nullable=False),
    sa.Column('qlrmc', sa.String(length=200), nullable=False),
    sa.Column('holders_norm', sa.String(length=200), nullable=False),
    sa.Column('djjg', sa.String(length=16), nullable=False),
    sa.Column('szsj', sa.DateTime(), nullable=False),
    sa.Column('zszt', sa.SmallInteger(), nullable=False),
    sa.Column('zxsj', sa.DateTime(), nullable=True),
    sa.Column('zxywh', sa.String(length=32), nullable=True),
    sa.Column('gxsj', sa.DateTime(), nullable=False),
    sa.Column('_load_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('zsid')
    )
    with op.batch_alter_table('stg_bdc_zs', schema=None) as batch_op:
        batch_op.create_index('ix_stg_bdc_zs_norm', ['bdcqzh_norm'], unique=False)
        batch_op.create_index('ix_stg_bdc_zs_szsj', ['szsj'], unique=False)
        batch_op.create_index('ix_stg_bdc_zs_zxsj', ['zxsj'], unique=False)

    op.create_table('stg_djf_dj_db',
    sa.Column('ywh', sa.String(length=32), nullable=False),
    sa.Column('dbrybh', sa.String(length=32), nullable=True),
    sa.Column('dbsj', sa.DateTime(), nullable=False),
    sa.Column('gxsj', sa.DateTime(), nullable=False),
    sa.Column('_load_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('ywh')
    )
    op.create_table('stg_djf_dj_sh',
    sa.Column('ywh', sa.String(length=32), nullable=False),
    sa.Column('sxh', sa.Integer(), nullable=False),
    sa.Column('jdmc', sa.String(length=32), nullable=False),
    sa.Column('shrybh', sa.String(length=32), nullable=True),
    sa.Column('shkssj', sa.DateTime(), nullable=True),
    sa.Column('shjssj', sa.DateTime(), nullable=True),
    sa.Column('czjg', sa.SmallInteger(), nullable=True),
    sa.Column('shyj', sa.String(length=500), nullable=True),
    sa.Column('gxsj', sa.DateTime(), nullable=False),
    sa.Column('_load_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('ywh', 'sxh')
    )
    op.create_table('stg_djt_dj_sl',
    sa.Column('ywh', sa.String(length=32), nullable=False),
    sa.Column('djjg', sa.String(length=16), nullable=False),
    sa.Column('qxdm', sa.String(length=6), nullable=False),
    sa.Column('djdl', sa.String(length=3), nullable=False),
    sa.Column('djxl', sa.String(length=7), nullable=True),
    sa.Column('qllx', sa.String(length=4), nullable=True),
    sa.Column('bdcdyh', sa.String(length=28), nullable=True),
    sa.Column('sqfs', sa.SmallInteger(), nullable=False),
    sa.Column('slrybh', sa.String(length=32), nullable=True),
    sa.Column('slsj', sa.DateTime(), nullable=False),
    sa.Column('ajzt', sa.SmallInteger(), nullable=False),
    sa.Column('jssj', sa.DateTime(), nullable=True),
    sa.Column('gqts', sa.Integer(), nullable=False),
    sa.Column('gxsj', sa.DateTime(), nullable=False),
    sa.Column('_load_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('ywh')
    )
    op.create_table('stg_qlf_ql_cfdj',
    sa.Column('ywh', sa.String(length=32), nullable=False),
    sa.Column('bdcdyh', sa.String(length=28), nullable=False),
    sa.Column('cfjg', sa.String(length=100), nullable=True),
    sa.Column('cfkssj', sa.DateTime(), nullable=False),
    sa.Column('jfsj', sa.DateTime(), nullable=True),
    sa.Column('gxsj', sa.DateTime(), nullable=False),
    sa.Column('_load_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('ywh')
    )
    op.create_table('stg_ry_jbxx',
    sa.Column('rybh', sa.String(length=32), nullable=False),
    sa.Column('xm', sa.String(length=50), nullable=False),
    sa.Column('zjh_masked', sa.String(length=18), nullable=True),
    sa.Column('zjh_valid', sa.SmallInteger(), nullable=False),
    sa.Column('dwdm', sa.String(length=16), nullable=True),
    sa.Column('yglx', sa.SmallInteger(), nullable=True),
    sa.Column('gw', sa.String(length=16), nullable=True),
    sa.Column('sgsj', sa.Date(), nullable=True),
    sa.Column('gwkssj', sa.Date(), nullable=True),
    sa.Column('zt', sa.SmallInteger(), nullable=False),
    sa.Column('lgsj', sa.Date(), nullable=True),
    sa.Column('lzcnsj', sa.Date(), nullable=True),
    sa.Column('gxsj', sa.DateTime(), nullable=False),
    sa.Column('_load_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('rybh')
    )
    op.create_table('stg_ry_pxjl',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('rybh', sa.String(length=32), nullable=False),
    sa.Column('pxmc', sa.String(length=200), nullable=True),
    sa.Column('pxrq', sa.Date(), nullable=False),
    sa.Column('xs', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('khjg', sa.SmallInteger(), nullable=False),
    sa.Column('gxsj', sa.DateTime(), nullable=False),
    sa.Column('_load_id', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('watermark',
    sa.Column('source_table', sa.String(length=40), nullable=False),
    sa.Column('gxsj', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source_table')
    )
    op.create_table('finding_event',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('from_status', sa.String(length=12), nullable=True),
    sa.Column('to_status', sa.String(length=12), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['finding.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash')
    )
    with op.batch_alter_table('finding_event', schema=None) as batch_op:
        batch_op.create_index('ix_finding_event_finding', ['finding_id'], unique=False)

    op.create_table('inspection_sample',
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('ywh', sa.String(length=32), nullable=False),
    sa.Column('djdl', sa.String(length=3), nullable=True),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], ),
    sa.PrimaryKeyConstraint('inspection_id', 'ywh')
    )
    op.create_table('outbox_attachment',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    # The audit chain starts from a fixed genesis hash so verification has an anchor.
    op.bulk_insert(
        sa.table("audit_head", sa.column("id", sa.Integer), sa.column("last_hash", sa.String)),
        [{"id": 1, "last_hash": "0" * 64}],
    )


def downgrade() -> None:
    op.drop_table('outbox_attachment')
    op.drop_table('inspection_sample')
    with op.batch_alter_table('finding_event', schema=None) as batch_op:
        batch_op.drop_index('ix_finding_event_finding')

    op.drop_table('finding_event')
    op.drop_table('watermark')
    op.drop_table('stg_ry_pxjl')
    op.drop_table('stg_ry_jbxx')
    op.drop_table('stg_qlf_ql_cfdj')
    op.drop_table('stg_djt_dj_sl')
    op.drop_table('stg_djf_dj_sh')
    op.drop_table('stg_djf_dj_db')
    with op.batch_alter_table('stg_bdc_zs', schema=None) as batch_op:
        batch_op.drop_index('ix_stg_bdc_zs_zxsj')
        batch_op.drop_index('ix_stg_bdc_zs_szsj')
        batch_op.drop_index('ix_stg_bdc_zs_norm')

    op.drop_table('stg_bdc_zs')
    with op.batch_alter_table('stg_bdc_dzzz_zzxx', schema=None) as batch_op:
        batch_op.drop_index('ix_stg_dzzz_zzbfrq')
        batch_op.drop_index('ix_stg_dzzz_norm')

    op.drop_table('stg_bdc_dzzz_zzxx')
    op.drop_table('stg_bdc_bysl')
    op.drop_table('quarantine')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_status')

    op.drop_table('outbox')
    op.drop_table('load_log')
    op.drop_table('inspection')
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.drop_index('ix_finding_unit_status')
        batch_op.drop_index('ix_finding_first_run')

    op.drop_table('finding')
    op.drop_table('audit_head')
