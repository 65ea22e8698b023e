"""Default topic names of the wire contract (all configurable)."""

from __future__ import annotations

__all__ = ["TOPIC_OF_TYPE", "INPUT_TOPICS", "OUTPUT_TOPICS", "topic_of"]

TOPIC_OF_TYPE = {
    "person_registered": "registry.population",
    "family_changed": "registry.population",
    "contact_changed": "registry.population",
    "birth": "registry.civil",
    "death": "registry.civil",
    "employment_started": "registry.employment",
    "dismissal": "registry.employment",
    "contribution": "registry.employment",
    "disability_ruling": "registry.disability",
    "disability_revoked": "registry.disability",
    "award": "registry.status",
    "kandas_status": "registry.status",
    "unemployed_registered": "registry.status",
    "unemployed_deregistered": "registry.status",
    "pension_assigned": "registry.status",
    "sms_reply": "sms.replies",
    "day": "calendar",
}

INPUT_TOPICS = tuple(dict.fromkeys(TOPIC_OF_TYPE.values()))
OUTPUT_TOPICS = {
    "notifications": "notifications",
    "assignments": "assignments",
    "dead_letters": "dead-letters",
    "outcomes": "offer-outcomes",  # extension: each offer's funnel steps (offered ... withdrawn)
}


def topic_of(message: object, default: str = "file") -> str:
    """The contract topic a message of this type travels on (files mix all topics)."""
    if isinstance(message, dict):
        t = message.get("type")
        if isinstance(t, str):
            return TOPIC_OF_TYPE.get(t, default)
    return default
