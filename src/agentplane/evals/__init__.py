"""Evaluations and simulations: a workflow scored on a dataset of cases (``agentplane eval``)
and stressed by a perturbed runtime (``agentplane simulate``) before it goes live.

Above the runtime, like the CLI and the server: it starts real durable runs and reads their
journals; nothing below imports it.
"""
