"""The test PostgreSQL server itself: fresh databases, a crash restart, killed connections."""

from __future__ import annotations

import psycopg
import pytest

from tests.pgserver import PostgresServer


def test_fresh_database_keeps_data_across_an_immediate_restart(
        postgres_server: PostgresServer, postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (v int)")
        conn.execute("INSERT INTO t VALUES (7)")
    postgres_server.restart(immediate=True)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT v FROM t").fetchall() == [(7,)]


def test_terminated_backend_breaks_the_client_connection(
        postgres_server: PostgresServer, postgres_url: str) -> None:
    conn = psycopg.connect(postgres_url, autocommit=True, application_name="victim")
    database = postgres_url.rsplit("/", 1)[1]
    assert postgres_server.terminate_backends(database, application_name="victim") == 1
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    conn.close()
