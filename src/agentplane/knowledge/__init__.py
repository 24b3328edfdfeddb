"""The context layer: governed knowledge an agent's model may see.

Documents of a tenant become chunks that keep their provenance (source, trust, owner, ingestion
time, validity) in a knowledge base (``store``); a declared ontology (``ontology``) admits the
entities and relations of a small knowledge graph (``graph``), built from records and from text
(``extract``); retrieval (``retrieve``) fuses lexical search over Chinese and English
(``text``), graph expansion and optional vectors; context shaping (``shaping``) turns what was
found into one cited, de-duplicated, conflict-aware packet that fits a token budget.

This box sits under the agent layer: it knows nothing of runs, tools or models' providers (an
extraction or embedding step is given the callable it needs). Shared shapes are in ``types``.
"""
