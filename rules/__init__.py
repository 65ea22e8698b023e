"""Eligibility rules: pure functions of a family card, an event and dated parameters."""

from rules import assistance, birth, death, disability, employment, family_benefits, income_loss, notices  # noqa: F401  (registers the rules)
from rules.decisions import Decision, notification_id
from rules.engine import Context, evaluate, registered_rules
from rules.params import Params, load_params

__all__ = ["Context", "Decision", "Params", "evaluate", "load_params", "notification_id", "registered_rules"]
