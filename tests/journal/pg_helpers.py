"""Helpers of the PostgreSQL journal tests: databases owned by an ordinary role."""

from __future__ import annotations

import uuid

from tests.pgserver import PostgresServer

APP_ROLE = "agentplane_app"
"""An ordinary role (no superuser, no BYPASSRLS): row-level security applies to it."""


def app_database(server: PostgresServer) -> str:
    """A fresh database owned by :data:`APP_ROLE`; returns the URL that connects as it."""
    server.admin_sql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname ="
                     f" '{APP_ROLE}') THEN CREATE ROLE {APP_ROLE} LOGIN; END IF; END $$")
    name = f"app_{uuid.uuid4().hex[:12]}"
    server.admin_sql(f'CREATE DATABASE "{name}" OWNER {APP_ROLE}')
    return f"postgresql://{APP_ROLE}@{server.host}:{server.port}/{name}"
