"""Memory that outlives a run: factual, experiential and procedural, per tenant, governed.

- *factual*: statements about a subject with a value, source, confidence and validity; a newer
  fact supersedes an older one explicitly;
- *experiential*: a summary of each finished run — outcome, cost, what went wrong — recalled for
  similar tasks;
- *procedural*: skills (tool sequences or sub-workflows that succeeded), promoted after a person
  approves or after N successes, versioned, callable by agents.

Every memory keeps its trust: what came from untrusted content stays untrusted when recalled.
People review, quarantine and delete memories; deletions are recorded (what, not the content).
Writes from runs are journaled steps (``memory.written``) and happen once.
"""
