"""Import figures: a 100,000-row file read, checked and committed (one transaction, every row validated
and audited), for a CSV of customer archives (GBK, as Chinese Excel saves it) and an XLSX of visits."""
from __future__ import annotations

import io
import time

from kefu import auth, importing
from kefu.store import Store

ROWS = 100_000


def customers_csv(store: Store, rows: int, keeper: str) -> bytes:
    lines = ["客户编号,客户名称,类型,联系人,联系电话,手机,信用等级,档案负责人,所在区域"]
    for n in range(rows):
        lines.append(f"IMP{n:07d},华夏科技发展有限公司{n},企业,欧阳{n % 97}号,0106{n % 10000000:07d},"
                     f"139{n:08d},B（良）,{keeper},华北")
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def visitors_xlsx(rows: int, host: str) -> bytes:
    import openpyxl
    from datetime import datetime, timedelta
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("来访")
    sheet.append(["来访人姓名", "工作单位", "联系电话", "来访事由", "接待人", "预约时间"])
    start = datetime(2025, 1, 1, 9, 0)
    for n in range(rows):
        sheet.append([f"访客{n}", "海棠湾酒店管理有限公司", 13700000000 + n, "业务洽谈", host, start + timedelta(minutes=n)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def run(store: Store, rows: int = ROWS) -> None:
    manager = auth.get_user(store, store.conn.execute(
        "SELECT id FROM kefu_users WHERE username = 'demo-manager'").fetchone()[0])
    keeper = store.conn.execute("SELECT display_name FROM kefu_users WHERE username = 'demo-staff'").fetchone()[0]
    files = [("customers", "客户.csv", customers_csv(store, rows, keeper)),
             ("visitors", "来访.xlsx", visitors_xlsx(rows, keeper))]
    for sheet, name, data in files:
        before = store.conn.execute(f"SELECT count(*) FROM {sheet}").fetchone()[0]
        start = time.perf_counter()
        table = importing.read_file(data, name, max_bytes=len(data) + 1)
        read = time.perf_counter()
        plan = importing.check(store, sheet, table, importing.auto_map(store.sheet(sheet), table.headers), manager)
        checked = time.perf_counter()
        assert plan.ok, (importing.problem_messages(store, plan, "en"), importing.error_rows(store, plan, "en")[:3])
        outcome = importing.commit(store, plan, manager)
        done = time.perf_counter()
        print(f"import {outcome.created:,} rows into {sheet} from {name} ({len(data) / 2**20:.1f} MiB, "
              f"{table.encoding or 'xlsx'}) onto {before:,}: {done - start:.1f} s in all "
              f"(read {read - start:.1f} s, check {checked - read:.1f} s, commit {done - checked:.1f} s; "
              f"{outcome.created / (done - start):,.0f} rows/s)")
