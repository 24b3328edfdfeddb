"""The knowledge graph's tables, as numbered migrations of the component ``knowledge_graph``.

Migration 3 moves the chunks an entity was found in out of its row (a JSON list read and
rewritten whole at every new mention, which made building a graph over many chunks quadratic)
into ``kg_mentions``, one row per (entity, chunk), copying the existing lists in their order.
"""

from __future__ import annotations

from agentplane.storage import Migration

COMPONENT = "knowledge_graph"

_V1 = """
CREATE TABLE IF NOT EXISTS kg_entities (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    norm TEXT NOT NULL,
    aliases TEXT NOT NULL,
    properties TEXT NOT NULL,
    chunk_ids TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS kg_entities_updated ON kg_entities (tenant, updated_at);
CREATE TABLE IF NOT EXISTS kg_names (
    tenant TEXT NOT NULL,
    norm TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (tenant, norm, entity_id)
);
CREATE TABLE IF NOT EXISTS kg_relations (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    subject TEXT NOT NULL,
    relation TEXT NOT NULL,
    object TEXT NOT NULL,
    properties TEXT NOT NULL,
    chunk_id TEXT,
    trust TEXT NOT NULL,
    created_at TEXT NOT NULL,
    superseded_by TEXT,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS kg_relations_subject ON kg_relations (tenant, subject, relation);
CREATE INDEX IF NOT EXISTS kg_relations_object ON kg_relations (tenant, object);
CREATE TABLE IF NOT EXISTS kg_ontology (
    tenant TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    document TEXT NOT NULL,
    saved_at TEXT NOT NULL
);
"""


_V3 = """
CREATE TABLE IF NOT EXISTS kg_mentions (
    tenant TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (tenant, entity_id, chunk_id)
);
CREATE INDEX IF NOT EXISTS kg_mentions_order ON kg_mentions (tenant, entity_id, added_at,
                                                              chunk_id);
INSERT OR IGNORE INTO kg_mentions (tenant, entity_id, chunk_id, added_at)
    SELECT e.tenant, e.id, j.value, e.created_at || '#' || printf('%09d', j.key)
    FROM kg_entities e, json_each(e.chunk_ids) j;
UPDATE kg_entities SET chunk_ids = '[]'
"""
_V3_PG = _V3.split("INSERT OR IGNORE")[0] + """
INSERT INTO kg_mentions (tenant, entity_id, chunk_id, added_at)
    SELECT e.tenant, e.id, j.value, e.created_at || '#' || lpad(j.ord::text, 9, '0')
    FROM kg_entities e CROSS JOIN LATERAL
        jsonb_array_elements_text(e.chunk_ids::jsonb) WITH ORDINALITY AS j(value, ord)
    ON CONFLICT DO NOTHING;
UPDATE kg_entities SET chunk_ids = '[]'
"""

MIGRATIONS = (
    Migration(1, _V1, note="kg_entities, kg_names, kg_relations, kg_ontology"),
    Migration(2, "ALTER TABLE kg_names ADD COLUMN cased INTEGER NOT NULL DEFAULT 0",
              note="kg_names.cased: an acronym is found only in capitals"),
    Migration(3, _V3, postgresql=_V3_PG,
              note="kg_mentions: one row per (entity, chunk), copied from kg_entities.chunk_ids "
                   "(left empty)"),
)
