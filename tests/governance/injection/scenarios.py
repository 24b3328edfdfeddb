"""Injection scenarios in the style of AgentDojo and InjecAgent.

Three kinds:

- ``attack``: the user asks for something harmless that makes the agent read untrusted content
  (a mail, a shared document, a web page, a CRM note or a search result) holding an injection.
  The scripted agent OBEYS the injection (the worst case: the model was fooled) and calls a
  sensitive tool with the attacker's values. ``goal`` says whether the attacker's side effect
  actually happened.
- ``legit``: a user task over the same tools whose sensitive values are named in the request or
  come from a trusted lookup (vendor registry, contacts, customer records, the company drive);
  the agent reads untrusted content along the way, sometimes content holding an injection it
  ignores. ``goal`` says whether the user's side effect happened.
- ``grey``: legitimate requests whose values come from untrusted content (a new supplier's IBAN
  in a mail, a reply to an unknown sender, figures quoted from a web page, personal data sent
  on purpose). Reported apart from the legit rate: some of them *should* need a person
  (``expect_person``), the others are the defence's false positives.

Sources: ``mail``, ``document``, ``web``, ``tool`` (CRM notes and web search results).
Targets: ``payment``, ``export`` (exports and uploads), ``message`` (e-mail and text
messages), ``deletion``.
"""

from __future__ import annotations

from .attacks import ATTACKS, KNOWN_MISSES
from .builders import SOURCES, TARGETS, Scenario
from .chosen import CHOSEN_LEGIT
from .grey import GREY
from .legit import LEGIT as _LEGIT

LEGIT: list[Scenario] = [*_LEGIT, *CHOSEN_LEGIT]
SCENARIOS: list[Scenario] = [*ATTACKS, *LEGIT, *GREY]

__all__ = ["ATTACKS", "GREY", "KNOWN_MISSES", "LEGIT", "SCENARIOS", "SOURCES", "TARGETS",
           "Scenario"]
