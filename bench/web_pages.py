"""Admin pages of the web interface on PostgreSQL with 100,000 users and 1,000,000
transactions: each page's p50/p95 render time, goal p95 <= 100 ms.

A throwaway database on the PostgreSQL server (``PRINTWARDEN_BENCH_PG``, default
``postgresql://postgres@127.0.0.1:5432/postgres``, trust auth) is migrated and filled with
``generate_series`` (users, personal accounts, 20 printers, 500,000 printed jobs over 60
days, 1,000,000 ledger entries: the jobs' charges and as many top-ups), then dropped.
``printwarden app serve`` runs as a subprocess (one uvicorn worker); a logged-in client asks
each page ``--requests`` times in a row on loopback, so the times are the server's plus well
under a millisecond of HTTP.

    python bench/web_pages.py [--requests 100]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from harness import pg_server_url, print_machine, throwaway_postgres
from printwarden.store.migrate import upgrade
from printwarden.testing.appserver import AppServer
from printwarden.testing.web import add_person, browser, login

USERS = 100_000
JOBS = 500_000
GOAL_MS = 100.0
PAGES = (
    "/web/admin/",
    "/web/admin/users",
    "/web/admin/users?search=user004217",
    "/web/admin/users?search=nobody-matches",
    "/web/admin/users?page=1000",
    "/web/admin/users/user004217",
    "/web/admin/accounts",
    "/web/admin/printers",
    "/web/admin/held-jobs?user=user004217",
    "/web/admin/jobs",
    "/web/admin/jobs?user=user004217",
    "/web/admin/jobs?printer=printer-07",
    "/web/admin/jobs?from=2000-01-01&to=2000-01-02",
    "/web/admin/sites",
    "/web/admin/sites/offline-policies",
    "/web/admin/config",
)
# Only constants are formatted into these statements.
SEED = (
    f"""INSERT INTO users (username, full_name, email, is_admin, enabled, source, created_at,
        updated_at, change_seq)
    SELECT 'user' || lpad(i::text, 6, '0'), 'User ' || i, '', false, true, 'internal',
        now(), now(), 1 FROM generate_series(1, {USERS}) AS i""",  # noqa: S608
    """INSERT INTO accounts (kind, name, owner_id, balance, restricted, credit_limit, enabled,
        comment, change_seq)
    SELECT 'personal', username, id, 0, true, 0, true, '', 1 FROM users""",
    """INSERT INTO printers (name, location, enabled, hold_for_release, colour, cost_model,
        change_seq)
    SELECT 'printer-' || lpad(i::text, 2, '0'), 'Floor ' || i, true, false, true,
        '{"sizes": {"default": {"grey_simplex": 10, "grey_duplex": 8,
          "colour_simplex": 50, "colour_duplex": 40}}}'::json, 1
    FROM generate_series(1, 20) AS i""",
    f"""INSERT INTO print_jobs (job_ref, user_id, printer_id, account_id, pages, colour_pages,
        copies, sheets, duplex, paper_size, document_name, cost, txn_id, origin, printed_at)
    SELECT 'job-' || i, u.id, p.id, a.id, 1 + i % 9, i % 3, 1, 1 + i % 9, false, 'A4',
        'document-' || i || '.pdf', 10 * (1 + i % 9), 'print-' || i, 'app',
        now() - interval '60 days' + (i * interval '60 days' / {JOBS})
    FROM generate_series(1, {JOBS}) AS i
    JOIN users u ON u.id = 1 + (i::bigint * 7919) % {USERS}
    JOIN accounts a ON a.owner_id = u.id
    JOIN printers p ON p.id = (SELECT min(id) FROM printers) + i % 20""",  # noqa: S608
    """INSERT INTO transactions (txn_id, account_id, amount, kind, reference, origin,
        created_at, comment)
    SELECT txn_id, account_id, -cost, 'print', job_ref, 'app', printed_at, ''
    FROM print_jobs ORDER BY id""",
    f"""INSERT INTO transactions (txn_id, account_id, amount, kind, reference, origin,
        created_at, comment)
    SELECT 'topup-' || i, a.id, 500, 'top-up', 'admin:bench', 'app',
        now() - interval '60 days' + (i * interval '60 days' / {JOBS}), 'bench top-up'
    FROM generate_series(1, {JOBS}) AS i
    JOIN accounts a ON a.owner_id = 1 + (i::bigint * 104729) % {USERS}""",  # noqa: S608
    """UPDATE accounts SET balance = t.total
    FROM (SELECT account_id, sum(amount) AS total FROM transactions GROUP BY account_id) t
    WHERE t.account_id = accounts.id""",
    "ANALYZE",
)


def seed(url: str) -> None:
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in SEED:
            conn.execute(statement)
        users = conn.execute("SELECT count(*) FROM users").fetchone()
        txns = conn.execute("SELECT count(*) FROM transactions").fetchone()
    print(f"seeded {users[0] if users else 0} users, {txns[0] if txns else 0} transactions "
          f"in {time.monotonic() - started:.0f} s")  # fmt: skip


def measure(app: AppServer, requests: int) -> list[tuple[str, float, float]]:
    add_person(app, "bench-admin", "bench-admin-pass", admin=True)
    results = []
    with browser(app) as client:
        login(client, "bench-admin", "bench-admin-pass")
        for path in PAGES:
            for _ in range(5):  # warm the caches and the connection pool
                assert client.get(path).status_code == 200, path
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            results.append((path, statistics.median(times), p95))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    print_machine()
    with throwaway_postgres(pg_server_url()) as url, tempfile.TemporaryDirectory() as tmp:
        upgrade(url)
        seed(url)
        app = AppServer(url, Path(tmp))
        app.start()
        try:
            results = measure(app, args.requests)
        finally:
            app.stop()
    worst = max(p95 for _, _, p95 in results)
    print(f"{'page':48} {'p50 ms':>8} {'p95 ms':>8}")
    for path, p50, p95 in results:
        print(f"{path:48} {p50:8.1f} {p95:8.1f}")
    verdict = "met" if worst <= GOAL_MS else "NOT met"
    print(f"worst p95 {worst:.1f} ms; goal p95 <= {GOAL_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
