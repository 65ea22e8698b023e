"""Parametric reforms (issue 15, ``rules.reform``): the overlay, its refusals, and proof that the
rules and timers really read the injected parameters (a reform that the flow ignored would make
every what-if report a copy of the baseline)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rules.params import PARAMETERS_FILE, Params
from rules.reform import Change, Reform, ReformError, describe, load_reform, reform_from_dict
from state.dates import day
from tests.history import days, ev, lines, person, reg
from tests.inprocess import Pipeline

BASE: dict[str, Any] = json.loads(PARAMETERS_FILE.read_text(encoding="utf-8"))
BASE_PARAMS = Params(BASE)


def mci_2026(value: int = 5000) -> dict[str, Any]:
    return {"dated": {"mci": {"values": {"2026-01-01": value}}}}


# -- the overlay ---------------------------------------------------------------------------------

def test_an_mci_overlay_changes_2026_and_leaves_2025() -> None:
    p = reform_from_dict(mci_2026()).params()
    assert p.mci(day("2026-03-01")) == 5000
    assert p.mci(day("2025-12-31")) == BASE_PARAMS.mci(day("2025-12-31")) == 3932
    assert p.version_on(day("2026-03-01")) == "2026-01-01"


def test_a_new_date_applies_only_from_then_and_is_kept_in_date_order() -> None:
    r = reform_from_dict({"dated": {"mci": {"values": {"2026-07-01": 5000}}}})
    p = r.params()
    assert p.mci(day("2026-06-30")) == 4325
    assert p.mci(day("2026-07-01")) == p.mci(day("2027-01-01")) == 5000
    assert list(r.raw["dated"]["mci"]["values"])[-2:] == ["2026-01-01", "2026-07-01"]
    change, = r.changes
    assert (change.path, change.before, change.after) == ("dated.mci.values.2026-07-01", None, 5000)
    assert r.label == "mci 2026-07-01: new → 5000"


def test_a_poverty_line_share_overlay_changes_the_scalar() -> None:
    r = reform_from_dict({"scalars": {"poverty_line_share": {"value": "0.75"}}})
    assert r.params().scalar_decimal("poverty_line_share") == Decimal("0.75")
    assert BASE_PARAMS.scalar_decimal("poverty_line_share") == Decimal("0.70")
    assert r.touches({"poverty_line_share"}) and not r.touches({"mci", "retirement_age"})


def test_a_coefficients_overlay_changes_the_large_family_benefit() -> None:
    r = reform_from_dict({"coefficients": {"large_family_benefit": {"values": {"4": "18.00"}}}})
    assert str(r.params().coefficient("large_family_benefit", "4")) == "18.00"
    assert r.params().coefficient("large_family_benefit", "5") == BASE_PARAMS.coefficient("large_family_benefit", "5")
    assert r.touches({"large_family_benefit"})
    assert r.sources == {"coefficients.large_family_benefit": BASE["coefficients"]["large_family_benefit"]["sources"]}


def test_retirement_age_overlays_for_men_and_a_dated_women_step() -> None:
    r = reform_from_dict({"retirement_age": {"men": 762, "women": {"2027-01-01": 735}}})
    men, women = r.params().retirement_schedule()
    assert men == 762
    assert (day("2027-01-01"), 735) in women and women == tuple(sorted(women))
    assert r.touches({"retirement_age"})
    assert [c.path for c in r.changes] == ["retirement_age.men", "retirement_age.women.2027-01-01"]


def test_an_empty_reform_changes_nothing() -> None:
    r = reform_from_dict({})
    assert r.changes == () and r.sources == {} and r.raw == BASE
    assert r.label == "baseline (no changes)"
    p = r.params()
    for name, spec in BASE["dated"].items():
        for start in spec["values"]:
            assert p.value(name, day(start)) == BASE_PARAMS.value(name, day(start))
    for name, spec in BASE["scalars"].items():
        if isinstance(spec["value"], int):
            assert p.scalar_int(name) == BASE_PARAMS.scalar_int(name)
        else:
            assert p.scalar_decimal(name) == BASE_PARAMS.scalar_decimal(name)
    for table, spec in BASE["coefficients"].items():
        for key in spec["values"]:
            assert p.coefficient(table, key) == BASE_PARAMS.coefficient(table, key)
    assert p.retirement_schedule() == BASE_PARAMS.retirement_schedule()
    assert p.in_force_from == BASE_PARAMS.in_force_from


def test_a_leaf_set_to_its_base_value_is_not_a_change() -> None:
    r = reform_from_dict({"dated": {"mci": {"values": {"2026-01-01": 4325}}},
                          "scalars": {"poverty_line_share": {"value": "0.7"}, "consent_days": {"value": 3}},
                          "retirement_age": {"men": 756}})
    assert r.changes == () and not r.touches({"mci", "poverty_line_share", "consent_days", "retirement_age"})


def test_changes_labels_and_describe_come_from_the_base() -> None:
    r = reform_from_dict({**mci_2026(), "scalars": {"kandas_notice_days": {"value": 10}}})
    assert r.label == "mci 2026-01-01: 4325 → 5000; kandas_notice_days: 30 → 10"
    assert r.changes[0] == Change("dated.mci.values.2026-01-01", 4325, 5000, BASE["dated"]["mci"]["label"], "KZT",
                                  BASE["dated"]["mci"]["sources"])
    assert describe(r) == [
        {"path": "dated.mci.values.2026-01-01", "label": BASE["dated"]["mci"]["label"], "unit": "KZT",
         "before": 4325, "after": 5000, "sources": BASE["dated"]["mci"]["sources"]},
        {"path": "scalars.kandas_notice_days.value", "label": BASE["scalars"]["kandas_notice_days"]["label"],
         "unit": "days", "before": 30, "after": 10, "sources": BASE["scalars"]["kandas_notice_days"]["sources"]},
    ]
    assert set(r.sources) == {"dated.mci", "scalars.kandas_notice_days"}


def test_a_given_label_is_kept_and_the_inputs_are_not_modified() -> None:
    overlay = {"label": "MCI 5000", **mci_2026()}
    before_overlay, before_base = json.dumps(overlay), json.dumps(BASE)
    r = reform_from_dict(overlay, BASE)
    assert r.label == "MCI 5000" and r.overlay == overlay
    assert json.dumps(overlay) == before_overlay and json.dumps(BASE) == before_base
    assert r.params() is r.params()  # built once


def test_load_reform_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "reform.json"
    path.write_text(json.dumps(mci_2026(4500)), encoding="utf-8")
    r = load_reform(path)
    assert isinstance(r, Reform) and r.params().mci(day("2026-01-01")) == 4500
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReformError, match="cannot read"):
        load_reform(path)


# -- refusals ------------------------------------------------------------------------------------

def _scalar(name: str, value: Any) -> dict[str, Any]:
    return {"scalars": {name: {"value": value}}}


REFUSED: list[tuple[str, Any, str]] = [
    ("unknown top-level key", {"dates": {}}, "dates: unknown key (did you mean dated?)"),
    ("metadata at top level", {"version": 2}, "version: unknown key"),
    ("unknown parameter", {"dated": {"mcii": {"values": {}}}}, "dated.mcii: unknown parameter (did you mean mci?)"),
    ("parameter in the wrong section", {"dated": {"kandas_notice_days": {}}},
     "dated.kandas_notice_days: unknown parameter (it is under scalars)"),
    ("unknown field", {"scalars": {"consent_days": {"valeu": 4}}}, "scalars.consent_days.valeu: unknown field"),
    ("string for an int scalar", _scalar("kandas_notice_days", "10"), "scalars.kandas_notice_days.value: expected an integer"),
    ("bool for an int scalar", _scalar("consent_days", True), "scalars.consent_days.value"),
    ("number for a decimal scalar", _scalar("poverty_line_share", 75),
     'scalars.poverty_line_share.value: expected a decimal string like "0.75", got 75'),
    ("number for a decimal coefficient", {"coefficients": {"birth_benefit": {"values": {"1": 40}}}},
     "coefficients.birth_benefit.values.1: expected a decimal string"),
    ("exponent in a decimal string", _scalar("wcl_replacement_rate", "6e-1"), "scalars.wcl_replacement_rate.value"),
    ("negative days", _scalar("consent_days", -1), "scalars.consent_days.value: expected a non-negative number of days"),
    ("percent over 100", _scalar("wcl_min_loss_pct", 101), "scalars.wcl_min_loss_pct.value"),
    ("share over 1", _scalar("poverty_line_share", "1.5"), "scalars.poverty_line_share.value: a share is between 0 and 1"),
    ("bad date", {"dated": {"mci": {"values": {"2026-13-01": 5000}}}},
     "dated.mci.values.2026-13-01: not a date (YYYY-MM-DD)"),
    ("short date", {"dated": {"mci": {"values": {"2026-7-1": 5000}}}}, "dated.mci.values.2026-7-1: not a date"),
    ("date before the series", {"dated": {"mci": {"values": {"2022-01-01": 3000}}}},
     "dated.mci.values.2022-01-01: before the series starts (2023-01-01)"),
    ("fractional tenge", {"dated": {"mci": {"values": {"2026-01-01": 4325.5}}}},
     "dated.mci.values.2026-01-01: expected whole KZT"),
    ("values not an object", {"dated": {"mci": {"values": [5000]}}}, "dated.mci.values: expected an object"),
    ("unknown coefficient key", {"coefficients": {"birth_benefit": {"values": {"9": "40"}}}},
     "coefficients.birth_benefit.values.9: unknown key (known: 1, 2, 3, 4+)"),
    ("fractional months coefficient", {"coefficients": {"job_loss_months": {"values": {"60+": "6.5"}}}},
     "coefficients.job_loss_months.values.60+: expected a whole number of months"),
    ("changing a unit", {"dated": {"mci": {"unit": "USD"}}}, "dated.mci.unit: unit is the base's description"),
    ("changing sources", {"scalars": {"consent_days": {"sources": []}}}, "scalars.consent_days.sources"),
    ("changing a coefficient label", {"coefficients": {"psc": {"label": "x"}}}, "coefficients.psc.label"),
    ("retirement unit", {"retirement_age": {"unit": "years"}}, "retirement_age.unit"),
    ("retirement men as a string", {"retirement_age": {"men": "63"}}, "retirement_age.men: expected an integer"),
    ("retirement women bad date", {"retirement_age": {"women": {"2028-02-30": 740}}},
     "retirement_age.women.2028-02-30: not a date"),
    ("retirement women negative", {"retirement_age": {"women": {"2028-01-01": -1}}}, "retirement_age.women.2028-01-01"),
    ("label not a string", {"label": 5}, "label: expected a non-empty string"),
    ("label empty", {"label": "  "}, "label: expected a non-empty string"),
    ("not an object", [1], "$: reform must be a JSON object"),
]


@pytest.mark.parametrize(("overlay", "message"), [(o, m) for _, o, m in REFUSED], ids=[i for i, _, _ in REFUSED])
def test_a_bad_reform_is_refused_with_its_path(overlay: Any, message: str) -> None:
    with pytest.raises(ReformError) as info:
        reform_from_dict(overlay)
    assert message in str(info.value)
    assert str(info.value).startswith(info.value.path + ": ")


# -- end to end: the flow's stages run on the injected parameters --------------------------------

MUM, DAD = person("1990-04-02", "female"), person("1985-01-01", "male")
BABY = person("2026-02-10", "male")
WORKER = person("1985-03-10", "male")
OLD = person("1963-03-10", "male")  # 63 (756 months) on 2026-03-10


def _run(reform: Reform | None, messages: list[dict[str, Any]]) -> Pipeline:
    p = Pipeline(params=reform.params() if reform else None)
    return p.feed_lines(lines(messages)).finish()


def _notes(p: Pipeline, code: str, kind: str | None = None) -> list[dict[str, Any]]:
    return [n for n in p.notifications if n["code"] == code and (kind is None or n["kind"] == kind)]


def test_an_mci_reform_scales_the_2026_birth_benefit_by_the_mci_ratio() -> None:
    history = [reg(MUM, "1990-04-02", "female", "F-1"), reg(DAD, "1985-01-01", "male", "F-1"),
               *days("2026-02-01", "2026-02-09"),
               ev("birth", BABY, "2026-02-10", {"mother_iin": MUM, "father_iin": DAD, "family_id": "F-1",
                                                "sex": "male"}), *days("2026-02-10", "2026-02-11")]
    base, = _notes(_run(None, history), "birth_benefit", "offer")
    reformed, = _notes(_run(reform_from_dict(mci_2026(5000)), history), "birth_benefit", "offer")
    assert base["amount_kzt"] == 38 * 4325
    assert reformed["amount_kzt"] == 38 * 5000
    assert reformed["amount_kzt"] * 4325 == base["amount_kzt"] * 5000


def test_a_kandas_notice_days_reform_moves_the_expiry_notice() -> None:
    history = [reg(WORKER, "1985-03-10", "male", "F-1"), *days("2026-02-01", "2026-02-01"),
               ev("kandas_status", WORKER, "2026-02-01", {"valid_until": "2026-04-20"}),
               *days("2026-02-02", "2026-04-21")]
    base, = _notes(_run(None, history), "kandas_status_expiry")
    reformed, = _notes(_run(reform_from_dict(_scalar("kandas_notice_days", 10)), history), "kandas_status_expiry")
    assert base["issued_on"] == "2026-03-21"  # valid_until − 30 days
    assert reformed["issued_on"] == "2026-04-10"  # valid_until − 10 days


def test_a_retirement_age_reform_moves_the_pension_notice() -> None:
    history = [reg(OLD, "1963-03-10", "male", "F-1"), *days("2026-03-01", "2026-09-12")]
    base, = _notes(_run(None, history), "pension_eligibility")
    reformed, = _notes(_run(reform_from_dict({"retirement_age": {"men": 762}}), history), "pension_eligibility")
    assert base["issued_on"] == "2026-03-10"  # 63 years
    assert reformed["issued_on"] == "2026-09-10"  # 63 years 6 months


KID = person("2015-06-01", "male")  # 18 on 2033-06-01, 16 on 2031-06-01
_FAMILY = [reg(MUM, "1990-04-02", "female", "F-1"), reg(DAD, "1985-01-01", "male", "F-1"),
           reg(KID, "2015-06-01", "male", "F-1", mother_iin=MUM, father_iin=DAD), *days("2026-03-01", "2026-03-01")]
_CHILD_RULING = {"group": "child", "cause": "other", "loss_of_working_capacity_pct": 0}


@pytest.mark.parametrize(("code", "event"), [
    ("breadwinner_loss", ev("death", DAD, "2026-03-02")),
    ("disabled_child_carer", ev("disability_ruling", KID, "2026-03-02", _CHILD_RULING)),
])
def test_an_adult_age_reform_moves_the_end_of_benefits_paid_until_adulthood(code: str, event: dict[str, Any]) -> None:
    history = [*_FAMILY, event, *days("2026-03-02", "2026-03-03")]
    base, = _notes(_run(None, history), code, "offer")
    # one offer, not a re-offer: the offer's end and the continuation's (rules.conditions) agree
    reformed, = _notes(_run(reform_from_dict(_scalar("adult_age_years", 16)), history), code, "offer")
    assert "2033-05" in base["reasons"][-1] and "turns 18" in base["reasons"][-1]
    assert "2031-05" in reformed["reasons"][-1] and "turns 16" in reformed["reasons"][-1]
