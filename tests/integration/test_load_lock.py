"""One load of a source table at a time (store.locks.load_lock) on every supported
supervision_db: a full scan beside another run's load of the same table deleted the rows
that load wrote in between, and the watermark then skipped them for good. (Threads waiting
in real time: the integration tier, not the unit tier's shifted-clock pass.)"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from bdcwatch.sources.extract import load_table
from bdcwatch.sources.schema import build_metadata
from bdcwatch.store.locks import LoadLockTimeoutError, load_lock
from bdcwatch.store.migrate import make_engine
from bdcwatch.store.models import stg_bdc_zs

T = datetime(2026, 3, 10, 10, 0)


def test_a_second_load_of_a_table_waits_for_the_first(database_url, sqlite_url):
    target = make_engine(database_url.migrated())
    with load_lock(target, "BDC_ZS"):
        with (pytest.raises(LoadLockTimeoutError, match="BDC_ZS") as waited,
              load_lock(target, "BDC_ZS", timeout=timedelta(seconds=0.3), poll_seconds=0.05)):
            pass
        assert waited.value.zh is not None and "BDC_ZS" in waited.value.zh
        with load_lock(target, "BDC_DZZZ_ZZXX", timeout=timedelta(seconds=0.3)):  # another table: no wait
            pass
    with load_lock(target, "BDC_ZS", timeout=timedelta(seconds=0.3)):  # released with the block
        pass

    # load_table takes it: a load started while another holds the table finishes after it.
    source = create_engine(sqlite_url("source"))
    metadata = build_metadata()
    metadata.create_all(source)

    def certificate(zsid: str) -> None:
        with source.begin() as conn:
            conn.execute(metadata.tables["BDC_ZS"].insert(), [{
                "ZSID": zsid, "YWH": f"Y{zsid}", "ZSLX": 1, "BDCQZH": f"晋(2026)阳泉市不动产权第000000{zsid}号",
                "BDCDYH": "140302001001GB00001F00010001", "QLRMC": "张三", "DJJG": "YQ00", "SZSJ": T, "ZSZT": 1,
                "GXSJ": T}])

    def staged() -> list[str]:
        with target.connect() as conn:
            return sorted(conn.execute(select(stg_bdc_zs.c.zsid)).scalars())

    certificate("1")
    load_table(source, target, "BDC_ZS", run_id="r1", now=datetime(2026, 6, 1, 9))  # warm: imports done
    certificate("2")
    done = threading.Event()

    def load() -> None:
        load_table(source, target, "BDC_ZS", run_id="r2", now=datetime(2026, 6, 2, 9))
        done.set()

    with load_lock(target, "BDC_ZS"):
        loader = threading.Thread(target=load)
        loader.start()
        assert not done.wait(5.0), "the load ran while another held the table"
        assert staged() == ["1"]
    loader.join(60)
    assert done.is_set() and staged() == ["1", "2"]
