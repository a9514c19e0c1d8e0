"""The throwaway PostgreSQL the tests run the PostgreSQL engine on: a fresh, empty database per test."""

from __future__ import annotations

import psycopg


def test_each_test_gets_a_fresh_empty_database_of_its_own(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)
        conn.execute("CREATE TABLE mine (n int)")
        conn.execute("INSERT INTO mine VALUES (1)")
        conn.commit()
        assert conn.execute("SELECT current_setting('server_version_num')::int / 10000").fetchone()[0] >= 15


def test_another_test_does_not_see_the_first_ones_tables(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT to_regclass('public.mine')").fetchone() == (None,)
