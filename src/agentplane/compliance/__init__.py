"""Compliance: labels on generated content (explicit text, implicit metadata, C2PA manifests
on images and PDFs), signed run receipts and checkpoints kept outside the journal, EU AI Act
technical documentation (Annex IV) and log retention.

Sits beside governance in the agent layer: it reads the journal and workflow specs; the
runtime calls :mod:`agentplane.compliance.labels` (which imports nothing above the journal) to
label a run's output. Signing needs the ``compliance`` extra (``cryptography``, ``PyJWT``,
``c2pa-python``), imported only where a key is used.
"""
