"""The JSON Schemas in ``schemas/`` and their validator: contract §1-2 as tables of cases.

Every input type and output kind has a valid example (the contract's own where it gives one)
and the typical mistakes each must be rejected with the right dead-letter code and path.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.validation import (
    EVENT_TYPES,
    OUTPUT_KINDS,
    Invalid,
    schema_path,
    validate_event,
    validate_output,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
MUM = "870512400129"
DAD = "850101300123"


def env(type_: str, data: dict[str, Any] | None, **over: Any) -> dict[str, Any]:
    """The contract's envelope example with another type and data."""
    msg: dict[str, Any] = {"event_id": "civ-2026-000123", "type": type_, "iin": "260301600127",
                           "occurred_on": "2026-03-01", "recorded_at": "2026-03-02T09:15:00+05:00"}
    if data is not None:
        msg["data"] = data
    msg.update(over)
    return msg


VALID: dict[str, dict[str, Any]] = {
    "person_registered": env("person_registered", {
        "birth_date": "2026-03-01", "sex": "female", "family_id": "F-000042", "mother_iin": MUM,
        "father_iin": DAD, "phone": "+77011234567", "language": "kk", "region": "Almaty",
        "iban": "KZ12ABCD000000000001"}),
    "family_changed": env("family_changed", {"family_id": "F-000043"}),
    "contact_changed": env("contact_changed", {"phone": "+77011234567", "language": "ru",
                                               "iban": "KZ12ABCD000000000001"}),
    "birth": env("birth", {"mother_iin": MUM, "father_iin": DAD, "family_id": "F-000042", "sex": "female",
                           "multiple_birth": 2}),
    "death": env("death", {}),
    "employment_started": env("employment_started", {"employer_bin": "123456789012", "monthly_wage_kzt": 350000}),
    "dismissal": env("dismissal", {"employer_bin": "123456789012", "reason": "staff_reduction"}),
    "contribution": env("contribution", {"month": "2026-02", "income_kzt": 350000,
                                         "social_contribution_kzt": 17500}),
    "disability_ruling": env("disability_ruling", {"group": "II", "cause": "general_illness",
                                                   "loss_of_working_capacity_pct": 60,
                                                   "valid_until": "2027-03-31"}),
    "disability_revoked": env("disability_revoked", {}),
    "award": env("award", {"award": "altyn_alka"}),
    "kandas_status": env("kandas_status", {"valid_until": "2027-03-01"}),
    "pension_assigned": env("pension_assigned", {"monthly_amount_kzt": 120000}),
    "unemployed_registered": env("unemployed_registered", {}),
    "unemployed_deregistered": env("unemployed_deregistered", {}),
    "sms_reply": {"event_id": "sms-9f1c", "type": "sms_reply", "phone": "+77011234567",
                  "in_reply_to": "n-0123456789abcdef0123", "text": "1", "received_at": "2026-03-03T12:00:00+05:00"},
    "day": {"event_id": "day-2026-03-02", "type": "day", "occurred_on": "2026-03-02"},
}

NOTIFICATION: dict[str, Any] = {
    "notification_id": "n-0123456789abcdef0123", "kind": "offer", "code": "birth_benefit",
    "iin": "870512400129", "family_id": "F-000042", "phone": "+77011234567", "language": "kk",
    "sender": "1414", "text": {"kk": "1414: ...", "ru": "1414: ..."},
    "reasons": ["child 260301600127 born 2026-03-01", "4th child"], "rule": "birth_benefit/2026-01-01",
    "amount_kzt": 164350, "period": "one_time", "occurred_on": "2026-03-01",
    "issued_on": "2026-03-02", "reply_by": "2026-03-05",
}
NOTICE: dict[str, Any] = {**NOTIFICATION, "kind": "notice", "code": "employment_measures", "amount_kzt": None,
                          "period": None, "reply_by": None, "phone": None, "family_id": None}
ASSIGNMENT: dict[str, Any] = {
    "assignment_id": "a-0001", "notification_id": "n-0123456789abcdef0123", "kind": "start",
    "code": "childcare_benefit", "iin": "870512400129", "family_id": "F-000042", "amount_kzt": 38493, "period": "monthly",
    "start_month": "2026-03", "end_month": "2027-08", "iban": "KZ12ABCD000000000001",
}
DEAD_LETTER: dict[str, Any] = {
    "source_topic": "registry.disability", "partition": 0, "offset": 17,
    "received": '{"event_id": "bad-3", "type": "disability_ruling"}',
    "error": {"code": "schema", "message": "data.group must be one of I, II, III, child", "path": "data.group"},
}
OUTCOME: dict[str, Any] = {"notification_id": "n-013a85456bd880d648c8", "code": "targeted_social_assistance",
                           "outcome": "consented", "on": "2026-01-16"}
OUTPUTS: dict[str, dict[str, Any]] = {"notification": NOTIFICATION, "assignment": ASSIGNMENT,
                                      "dead_letter": DEAD_LETTER, "outcome": OUTCOME}

# Contract §1: the fields without "?" in the table, as paths.
ENVELOPE = ["event_id", "type", "iin", "occurred_on", "recorded_at"]
REQUIRED: dict[str, list[str]] = {
    "person_registered": [*ENVELOPE, "data", "data.birth_date", "data.sex", "data.family_id"],
    "family_changed": [*ENVELOPE, "data", "data.family_id"],
    "contact_changed": [*ENVELOPE, "data"],
    "birth": [*ENVELOPE, "data", "data.mother_iin", "data.family_id", "data.sex"],
    "death": ENVELOPE,
    "employment_started": [*ENVELOPE, "data", "data.employer_bin", "data.monthly_wage_kzt"],
    "dismissal": [*ENVELOPE, "data", "data.employer_bin", "data.reason"],
    "contribution": [*ENVELOPE, "data", "data.month", "data.income_kzt", "data.social_contribution_kzt"],
    "disability_ruling": [*ENVELOPE, "data", "data.group", "data.cause", "data.loss_of_working_capacity_pct"],
    "disability_revoked": ENVELOPE,
    "award": [*ENVELOPE, "data", "data.award"],
    "kandas_status": [*ENVELOPE, "data", "data.valid_until"],
    "pension_assigned": [*ENVELOPE, "data", "data.monthly_amount_kzt"],
    "unemployed_registered": ENVELOPE,
    "unemployed_deregistered": ENVELOPE,
    "sms_reply": ["event_id", "type", "phone", "in_reply_to", "text", "received_at"],
    "day": ["event_id", "type", "occurred_on"],
}
OPTIONAL: dict[str, list[str]] = {
    "person_registered": ["data.mother_iin", "data.father_iin", "data.phone", "data.language", "data.region",
                          "data.iban"],
    "contact_changed": ["data.phone", "data.language", "data.iban"],
    "birth": ["data.father_iin", "data.multiple_birth"],
    "disability_ruling": ["data.valid_until"],
}
NO_DATA_FIELDS = ["death", "disability_revoked", "unemployed_registered", "unemployed_deregistered"]


def _split(path: str) -> list[str]:
    return path.split(".")


def without(msg: dict[str, Any], path: str) -> dict[str, Any]:
    out = copy.deepcopy(msg)
    *parents, last = _split(path)
    node = out
    for key in parents:
        node = node[key]
    del node[last]
    return out


def with_value(msg: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(msg)
    *parents, last = _split(path)
    node = out
    for key in parents:
        node = node[key]
    node[last] = value
    return out


# --- files -----------------------------------------------------------------------------

def _schema_files() -> list[Path]:
    return sorted([*SCHEMAS.glob("events/*.json"), *SCHEMAS.glob("outputs/*.json")])


@pytest.mark.parametrize("path", _schema_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schema_file_is_json_with_id_title_description(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert doc["$id"].endswith(f"/{path.parent.name}/{path.name}")
    assert doc["title"] and doc["description"]


def test_event_types_match_files() -> None:
    files = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("events/*.schema.json")}
    assert {f for f in files if not f.startswith("_")} == EVENT_TYPES == set(VALID) == set(REQUIRED)
    outputs = {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("outputs/*.schema.json")}
    assert outputs == OUTPUT_KINDS == set(OUTPUTS)
    assert len(EVENT_TYPES) == 17


@pytest.mark.parametrize("name", sorted(EVENT_TYPES | OUTPUT_KINDS))
def test_schema_path_points_at_existing_file(name: str) -> None:
    assert schema_path(name).is_file()


def test_files_mean_the_same_with_a_standard_ref_resolver() -> None:
    # validation.py inlines $refs for speed; the files must also work as published, with
    # fastjsonschema resolving $id-relative refs itself. Only the integer-literal rule
    # (5.0 is no money) lives outside the schemas.
    import fastjsonschema

    from schemas import validation

    def check(name: str) -> Any:
        doc = json.loads(schema_path(name).read_text(encoding="utf-8"))
        return fastjsonschema.compile(doc, handlers={"https": validation._load},
                                      formats=validation._FORMATS, use_default=False)

    for type_ in sorted(EVENT_TYPES):
        validate = check(type_)
        validate(VALID[type_])
        for t, path, value, _ in BAD_VALUES:
            if t == type_ and not isinstance(value, float):
                with pytest.raises(fastjsonschema.JsonSchemaValueException):
                    validate(with_value(VALID[t], path, value))
    for kind in sorted(OUTPUTS):
        check(kind)(OUTPUTS[kind])


def test_schema_path_of_unknown_name() -> None:
    with pytest.raises(KeyError):
        schema_path("marriage")


# --- events: valid ---------------------------------------------------------------------

@pytest.mark.parametrize("type_", sorted(VALID))
def test_valid_event_is_accepted(type_: str) -> None:
    assert validate_event(VALID[type_]) is None


@pytest.mark.parametrize("type_", sorted(VALID))
def test_producers_may_add_fields(type_: str) -> None:
    msg = copy.deepcopy(VALID[type_])
    msg["trace_id"] = "abc"
    if "data" in msg:
        msg["data"]["new_optional_field"] = {"anything": [1, 2]}
    assert validate_event(msg) is None


@pytest.mark.parametrize("type_,path", [(t, p) for t, paths in OPTIONAL.items() for p in paths])
def test_optional_fields_may_be_absent(type_: str, path: str) -> None:
    assert validate_event(without(VALID[type_], path)) is None


@pytest.mark.parametrize("type_", NO_DATA_FIELDS)
def test_types_without_fields_accept_empty_or_missing_data(type_: str) -> None:
    assert validate_event(env(type_, {})) is None
    assert validate_event(env(type_, None)) is None
    assert validate_event(env(type_, [])) == Invalid("schema", "data must be object, got array", "data")


def test_contract_birth_envelope_and_instant_forms() -> None:
    birth = VALID["birth"]
    assert birth["iin"] == "260301600127"
    for instant in ("2026-03-02T09:15:00+05:00", "2026-03-02T04:15:00Z", "2026-03-02T09:15:00.123+05:00",
                    "2026-03-02T09:15:00-03:30"):
        assert validate_event({**birth, "recorded_at": instant}) is None, instant
    assert validate_event({**birth, "occurred_on": "2024-02-29"}) is None  # leap day


def test_validation_does_not_write_defaults() -> None:
    msg = without(VALID["birth"], "data.multiple_birth")
    before = copy.deepcopy(msg)
    assert validate_event(msg) is None
    assert msg == before


# --- events: rejected ------------------------------------------------------------------

@pytest.mark.parametrize("type_,path", [(t, p) for t, paths in REQUIRED.items() for p in paths])
def test_missing_required_field(type_: str, path: str) -> None:
    invalid = validate_event(without(VALID[type_], path))
    assert invalid is not None
    assert (invalid.code, invalid.path) == ("schema", path)
    assert path in invalid.message


# (type, path, bad value, reason) — every one must give code "schema" at that path.
BAD_VALUES: list[tuple[str, str, Any, str]] = [
    # envelope
    ("birth", "event_id", "", "empty id"),
    ("birth", "event_id", "x" * 201, "id too long"),
    ("birth", "event_id", 123, "id not a string"),
    ("birth", "iin", "26030160012", "11 digits"),
    ("birth", "iin", "2603016001270", "13 digits"),
    ("birth", "iin", "26030160012a", "letter"),
    ("birth", "iin", "260301600127\n", "trailing newline"),
    ("birth", "iin", "２６０３０１６００１２７", "full-width digits"),
    ("birth", "iin", 260301600127, "number"),
    ("birth", "occurred_on", "2026-02-30", "no 30 February"),
    ("birth", "occurred_on", "2025-02-29", "not a leap year"),
    ("birth", "occurred_on", "2026-13-01", "month 13"),
    ("birth", "occurred_on", "2026-00-10", "month 0"),
    ("birth", "occurred_on", "2026-3-1", "no zero padding"),
    ("birth", "occurred_on", "01.03.2026", "local format"),
    ("birth", "occurred_on", "2026-03-01T00:00:00+05:00", "instant for a date"),
    ("birth", "occurred_on", "20260301", "basic ISO format"),
    ("birth", "occurred_on", "2026-W09-7", "week date"),
    ("birth", "occurred_on", None, "null"),
    ("birth", "recorded_at", "2026-03-02T09:15:00", "instant without offset"),
    ("birth", "recorded_at", "2026-03-02 09:15:00+05:00", "space for T"),
    ("birth", "recorded_at", "2026-03-02T09:15+05:00", "no seconds"),
    ("birth", "recorded_at", "2026-03-02", "date for an instant"),
    ("birth", "recorded_at", "2026-02-30T09:15:00+05:00", "impossible date in instant"),
    ("birth", "recorded_at", "2026-03-02T25:00:00+05:00", "hour 25"),
    ("birth", "recorded_at", "2026-03-02T09:61:00+05:00", "minute 61"),
    ("birth", "recorded_at", "2026-03-02T09:15:00+24:00", "offset of a day"),
    ("birth", "recorded_at", "2026-03-02T09:15:00+05:75", "offset minute 75"),
    ("birth", "recorded_at", 1772424900, "epoch number"),
    ("birth", "data", "mother=870512400129", "data not an object"),
    # birth
    ("birth", "data.sex", "f", "sex enum"),
    ("birth", "data.mother_iin", None, "null for a required IIN"),
    ("birth", "data.father_iin", None, "null for an optional field"),
    ("birth", "data.family_id", "", "empty family id"),
    ("birth", "data.family_id", "F" * 65, "family id too long"),
    ("birth", "data.multiple_birth", 0, "no children"),
    ("birth", "data.multiple_birth", 11, "more than 10"),
    ("birth", "data.multiple_birth", "2", "string for int"),
    ("birth", "data.multiple_birth", 2.0, "float for int"),
    ("birth", "data.multiple_birth", 1.5, "fraction"),
    ("birth", "data.multiple_birth", True, "boolean for int"),
    # person_registered
    ("person_registered", "data.birth_date", "2026-02-30", "impossible birth date"),
    ("person_registered", "data.sex", "MALE", "sex is lower case"),
    ("person_registered", "data.phone", "87011234567", "local phone format"),
    ("person_registered", "data.phone", "+7701123456", "9 digits"),
    ("person_registered", "data.phone", "+77011234567 ", "trailing space"),
    ("person_registered", "data.phone", None, "null phone"),
    ("person_registered", "data.language", "en", "language enum"),
    ("person_registered", "data.language", None, "null language"),
    ("person_registered", "data.region", "r" * 101, "region too long"),
    ("person_registered", "data.iban", "KZ12abcd000000000001", "lower-case IBAN"),
    ("person_registered", "data.iban", "DE12ABCD000000000001", "foreign IBAN"),
    ("person_registered", "data.iban", "KZ12ABCD0000000000011", "IBAN too long"),
    ("person_registered", "data.mother_iin", "8705124001", "short parent IIN"),
    # contact_changed, family_changed
    ("contact_changed", "data.phone", "+7 701 123 45 67", "spaces in phone"),
    ("contact_changed", "data.language", "KK", "language is lower case"),
    ("family_changed", "data.family_id", 42, "number family id"),
    # employment
    ("employment_started", "data.employer_bin", "12345678901", "11-digit BIN"),
    ("employment_started", "data.monthly_wage_kzt", -1, "negative money"),
    ("employment_started", "data.monthly_wage_kzt", 10**12 + 1, "absurd money"),
    ("employment_started", "data.monthly_wage_kzt", "350000", "string money"),
    ("employment_started", "data.monthly_wage_kzt", 350000.5, "tiyn"),
    ("employment_started", "data.monthly_wage_kzt", 350000.0, "float money"),
    ("dismissal", "data.reason", "fired", "reason enum"),
    ("contribution", "data.month", "2026-13", "month 13"),
    ("contribution", "data.month", "2026-00", "month 0"),
    ("contribution", "data.month", "2026-3", "month not padded"),
    ("contribution", "data.month", "2026-03-01", "date for a month"),
    ("contribution", "data.income_kzt", None, "null money"),
    ("contribution", "data.social_contribution_kzt", [1], "array money"),
    # disability
    ("disability_ruling", "data.group", "IV", "group enum"),
    ("disability_ruling", "data.group", "i", "group is upper case"),
    ("disability_ruling", "data.cause", "illness", "cause enum"),
    ("disability_ruling", "data.loss_of_working_capacity_pct", 101, "over 100 %"),
    ("disability_ruling", "data.loss_of_working_capacity_pct", -1, "negative %"),
    ("disability_ruling", "data.loss_of_working_capacity_pct", "60", "string %"),
    ("disability_ruling", "data.valid_until", "2027-02-29", "not a leap year"),
    ("disability_ruling", "data.valid_until", None, "null instead of absent"),
    # status
    ("award", "data.award", "hero", "award enum"),
    ("kandas_status", "data.valid_until", "2027-3-1", "no zero padding"),
    ("pension_assigned", "data.monthly_amount_kzt", -5, "negative pension"),
    # sms_reply, day
    ("sms_reply", "phone", "+99891234567", "not a +7 number"),
    ("sms_reply", "text", "x" * 1001, "text too long"),
    ("sms_reply", "text", None, "null text"),
    ("sms_reply", "in_reply_to", 17, "number reference"),
    ("sms_reply", "received_at", "2026-03-03T12:00:00", "instant without offset"),
    ("day", "occurred_on", "2026-02-30", "no 30 February"),
    ("day", "occurred_on", "2026-3-2", "no zero padding"),
    ("day", "event_id", None, "null id"),
]


@pytest.mark.parametrize("type_,path,value,reason", BAD_VALUES,
                         ids=[f"{t}:{p}:{r}" for t, p, _, r in BAD_VALUES])
def test_bad_value_is_rejected(type_: str, path: str, value: Any, reason: str) -> None:
    invalid = validate_event(with_value(VALID[type_], path, value))
    assert invalid is not None, reason
    assert (invalid.code, invalid.path) == ("schema", path), invalid
    assert invalid.message.startswith(path), invalid.message
    assert len(invalid.message) < 300


@pytest.mark.parametrize("type_", sorted(VALID))
def test_wrong_type_const_in_schema(type_: str) -> None:
    # The dispatch picks the schema by type, so a schema's own const must name that type.
    doc = json.loads(schema_path(type_).read_text(encoding="utf-8"))
    assert doc["properties"]["type"] == {"const": type_}


@pytest.mark.parametrize("obj,message", [
    (None, "a message must be a JSON object, got null"),
    ([VALID["birth"]], "a message must be a JSON object, got array"),
    ("birth", "a message must be a JSON object, got string"),
    (42, "a message must be a JSON object, got integer"),
])
def test_non_object_input(obj: object, message: str) -> None:
    assert validate_event(obj) == Invalid("schema", message, "")


@pytest.mark.parametrize("type_value,code,message", [
    ("marriage", "unknown_type", "unknown event type 'marriage'"),
    ("Birth", "unknown_type", "unknown event type 'Birth'"),
    ("", "unknown_type", "unknown event type ''"),
    (None, "schema", "type must be string, got null"),
    (7, "schema", "type must be string, got integer"),
    (["birth"], "schema", "type must be string, got array"),
])
def test_bad_type(type_value: Any, code: str, message: str) -> None:
    assert validate_event({**VALID["birth"], "type": type_value}) == Invalid(code, message, "type")


def test_missing_type() -> None:
    assert validate_event(without(VALID["birth"], "type")) == Invalid("schema", "type is required", "type")


def test_unknown_type_message_stays_short() -> None:
    invalid = validate_event({**VALID["birth"], "type": "x" * 1_000_000})
    assert invalid is not None and invalid.code == "unknown_type" and len(invalid.message) < 100


def test_huge_string_is_rejected_by_length() -> None:
    huge = "7" * 10_000_000
    invalid = validate_event(with_value(VALID["person_registered"], "data.region", huge))
    assert invalid is not None and invalid.path == "data.region" and "at most 100" in invalid.message
    assert validate_event({**VALID["birth"], "iin": huge}) == Invalid(
        "schema", "iin must be at most 12 characters long, got 10000000", "iin")


@pytest.mark.parametrize("path,value,expected", [
    ("data.sex", "x" * 10_000_000, "data.sex must be one of male, female, got 'xxxxx"),
    ("data.sex", ["male"] * 100_000, "data.sex must be string, got array"),
    ("data.multiple_birth", 10**400, "data.multiple_birth must be <= 10, got an integer of more than 64 bits"),
])
def test_huge_values_are_reported_briefly(path: str, value: Any, expected: str) -> None:
    invalid = validate_event(with_value(VALID["birth"], path, value))
    assert invalid is not None and invalid.message.startswith(expected) and len(invalid.message) < 200


@pytest.mark.parametrize("msg,expected", [
    (with_value(VALID["disability_ruling"], "data.group", "IV"),
     "data.group must be one of I, II, III, child, got 'IV'"),
    (without(VALID["birth"], "data.mother_iin"), "data.mother_iin is required"),
    (with_value(VALID["birth"], "occurred_on", "2026-02-30"),
     "occurred_on must be a calendar date YYYY-MM-DD, got '2026-02-30' (no such date or time)"),
    (with_value(VALID["birth"], "occurred_on", "2026-3-1"),
     "occurred_on must be a calendar date YYYY-MM-DD, got '2026-3-1'"),
    (with_value(VALID["employment_started"], "data.monthly_wage_kzt", "350000"),
     "data.monthly_wage_kzt must be integer, got string"),
    (with_value(VALID["employment_started"], "data.monthly_wage_kzt", 350000.0),
     "data.monthly_wage_kzt must be an integer literal, got 350000.0"),
])
def test_messages_say_what_is_wrong(msg: dict[str, Any], expected: str) -> None:
    invalid = validate_event(msg)
    assert invalid is not None and invalid.message == expected


# --- outputs ---------------------------------------------------------------------------

@pytest.mark.parametrize("record", [
    NOTIFICATION, NOTICE,
    {**NOTIFICATION, "kind": "reminder"},
    {**NOTIFICATION, "kind": "withdrawal", "code": "childcare_benefit", "period": "monthly"},
    {**NOTIFICATION, "phone": None, "family_id": None, "language": "ru"},
    {**NOTIFICATION, "amount_kzt": 0},
    {**NOTIFICATION, "reply_by": "2026-03-02"},
    {**NOTICE, "code": "pension_eligibility"}, {**NOTICE, "code": "kandas_status_expiry"},
], ids=lambda r: f"{r['kind']}:{r['code']}:{r['phone']}:{r['reply_by']}")
def test_valid_notification(record: dict[str, Any]) -> None:
    assert validate_output("notification", record) is None


@pytest.mark.parametrize("record", [
    ASSIGNMENT,
    without(without(ASSIGNMENT, "end_month"), "iban"),
    {**ASSIGNMENT, "end_month": None, "iban": None, "family_id": None},
    {**ASSIGNMENT, "code": "birth_benefit", "period": "one_time", "end_month": "2026-03"},
    {**ASSIGNMENT, "kind": "change", "amount_kzt": 40000, "start_month": "2026-07", "late": True},
    {**ASSIGNMENT, "kind": "close", "end_month": "2026-06", "late": False},
])
def test_valid_assignment(record: dict[str, Any]) -> None:
    assert validate_output("assignment", record) is None


@pytest.mark.parametrize("record", [
    DEAD_LETTER,
    {**DEAD_LETTER, "partition": None, "offset": None},
    without(without(DEAD_LETTER, "partition"), "offset"),
    without(DEAD_LETTER, "error.path"),
    {**DEAD_LETTER, "received": "", "error": {"code": "too_large", "message": "message of 70000 bytes"}},
    {**DEAD_LETTER, "error": {"code": "rejected_reply", "message": "reply from another phone", "path": ""}},
])
def test_valid_dead_letter(record: dict[str, Any]) -> None:
    assert validate_output("dead_letter", record) is None


@pytest.mark.parametrize("kind,path", [(k, p) for k, rec in OUTPUTS.items() for p in rec
                                       if p not in ("end_month", "iban", "partition", "offset")])
def test_output_missing_required_field(kind: str, path: str) -> None:
    invalid = validate_output(kind, without(OUTPUTS[kind], path))
    assert invalid is not None and (invalid.code, invalid.path) == ("schema", path)


@pytest.mark.parametrize("kind", sorted(OUTPUTS))
def test_outputs_are_strict_about_extra_fields(kind: str) -> None:
    invalid = validate_output(kind, {**OUTPUTS[kind], "debug": 1})
    assert invalid == Invalid("schema", "debug is not allowed (not in the contract)", "debug")


# (kind, base record, path, bad value)
BAD_OUTPUTS: list[tuple[str, dict[str, Any], str, Any]] = [
    ("notification", NOTIFICATION, "notification_id", "n-XYZ"),
    ("notification", NOTIFICATION, "notification_id", "0123abcd"),
    ("notification", NOTIFICATION, "kind", "alert"),
    ("notification", NOTIFICATION, "code", "marriage_benefit"),
    ("notification", NOTIFICATION, "code", "pension_eligibility"),  # a notice code on an offer
    ("notification", NOTIFICATION, "iin", "87051240012"),
    ("notification", NOTIFICATION, "family_id", ""),
    ("notification", NOTIFICATION, "phone", "87011234567"),
    ("notification", NOTIFICATION, "language", "en"),
    ("notification", NOTIFICATION, "language", None),
    ("notification", NOTIFICATION, "sender", "1415"),
    ("notification", NOTIFICATION, "text", "1414: ..."),
    ("notification", NOTIFICATION, "text.kk", ""),
    ("notification", NOTIFICATION, "text.en", "hello"),
    ("notification", NOTIFICATION, "reasons", []),
    ("notification", NOTIFICATION, "reasons", "child born"),
    ("notification", NOTIFICATION, "rule", ""),
    ("notification", NOTIFICATION, "amount_kzt", -1),
    ("notification", NOTIFICATION, "amount_kzt", 164350.0),
    ("notification", NOTIFICATION, "amount_kzt", "164350"),
    ("notification", NOTIFICATION, "amount_kzt", None),  # an offer needs an amount
    ("notification", NOTIFICATION, "period", "weekly"),
    ("notification", NOTIFICATION, "period", None),
    ("notification", NOTIFICATION, "occurred_on", "2026-02-30"),
    ("notification", NOTIFICATION, "issued_on", "2026-3-2"),
    ("notification", NOTIFICATION, "reply_by", "2026-03-01"),  # before issued_on
    ("notification", NOTIFICATION, "reply_by", None),  # an offer needs a deadline
    ("notification", NOTICE, "amount_kzt", 0),
    ("notification", NOTICE, "period", "monthly"),
    ("notification", NOTICE, "reply_by", "2026-03-05"),
    ("notification", NOTICE, "code", "birth_benefit"),
    ("assignment", ASSIGNMENT, "assignment_id", ""),
    ("assignment", ASSIGNMENT, "notification_id", "x-1"),
    ("assignment", ASSIGNMENT, "code", "employment_measures"),  # notices are never assigned
    ("assignment", ASSIGNMENT, "amount_kzt", None),
    ("assignment", ASSIGNMENT, "amount_kzt", 38493.0),
    ("assignment", ASSIGNMENT, "period", None),
    ("assignment", ASSIGNMENT, "start_month", "2026-13"),
    ("assignment", ASSIGNMENT, "start_month", "2026-03-01"),
    ("assignment", ASSIGNMENT, "end_month", "2026-02"),  # before start_month
    ("assignment", ASSIGNMENT, "iban", "KZ12"),
    ("assignment", ASSIGNMENT, "kind", "withdrawal"),  # start, change or close (contract v2)
    ("assignment", ASSIGNMENT, "late", "yes"),
    ("dead_letter", DEAD_LETTER, "source_topic", ""),
    ("dead_letter", DEAD_LETTER, "partition", -1),
    ("dead_letter", DEAD_LETTER, "offset", "17"),
    ("dead_letter", DEAD_LETTER, "offset", 17.0),
    ("dead_letter", DEAD_LETTER, "received", {"event_id": "x"}),
    ("dead_letter", DEAD_LETTER, "received", "x" * 65537),
    ("dead_letter", DEAD_LETTER, "error", "schema"),
    ("dead_letter", DEAD_LETTER, "error.code", "Schema Error"),
    ("dead_letter", DEAD_LETTER, "error.message", ""),
    ("dead_letter", DEAD_LETTER, "error.path", None),
    ("dead_letter", DEAD_LETTER, "error.detail", "extra"),
]


@pytest.mark.parametrize("kind,base,path,value", BAD_OUTPUTS,
                         ids=[f"{k}:{b['kind'] if 'kind' in b else ''}:{p}:{v!r:.20}" for k, b, p, v in BAD_OUTPUTS])
def test_bad_output_is_rejected(kind: str, base: dict[str, Any], path: str, value: Any) -> None:
    invalid = validate_output(kind, with_value(base, path, value))
    assert invalid is not None
    assert (invalid.code, invalid.path) == ("schema", path), invalid


def test_bad_reason_item_path_names_the_index() -> None:
    invalid = validate_output("notification", {**NOTIFICATION, "reasons": ["ok", ""]})
    assert invalid == Invalid("schema", "reasons[1] must not be empty", "reasons[1]")


def test_notice_rule_is_explained() -> None:
    invalid = validate_output("notification", {**NOTICE, "amount_kzt": 100})
    assert invalid is not None and "a notice carries no amount" in invalid.message


@pytest.mark.parametrize("obj", [None, [], "x", 1])
def test_output_must_be_object(obj: object) -> None:
    invalid = validate_output("notification", obj)
    assert invalid is not None and (invalid.code, invalid.path) == ("schema", "")


def test_unknown_output_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        validate_output("receipt", {})


# --- robustness ------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=40, deadline=None)
@given(type_=st.sampled_from(sorted(VALID)), path=st.sampled_from(["event_id", "type", "data", "iin",
                                                                   "occurred_on", "phone", "text"]),
       value=JSON)
def test_any_json_gives_none_or_invalid_never_an_exception(type_: str, path: str, value: Any) -> None:
    result = validate_event(with_value(VALID[type_], path, value))
    assert result is None or (isinstance(result, Invalid) and result.code in ("schema", "unknown_type"))


@settings(max_examples=30, deadline=None)
@given(type_=st.sampled_from(sorted(VALID)), field=st.text(min_size=1, max_size=10), value=JSON)
def test_any_data_field_gives_none_or_invalid(type_: str, field: str, value: Any) -> None:
    msg = copy.deepcopy(VALID[type_])
    msg.setdefault("data", {})[field] = value
    result = validate_event(msg)
    assert result is None or isinstance(result, Invalid)
