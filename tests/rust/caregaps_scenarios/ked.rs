//! Named scenarios of KED (see the crate comment in main.rs).

use super::*;
const M: &str = "KED";

fn lab(s: Scenario, date: chrono::NaiveDate, loinc: &'static str) -> Scenario {
    s.with(ev(date, "LOINC", loinc).value(50.0))
}

#[test]
fn same_day_results_give_the_same_evidence_in_either_order() {
    // Found by the property tests: two uACR results on one day, read in either order.
    let (low, high) = (
        ev(d(2025, 10, 13), "LOINC", "9318-7").value(25.0),
        ev(d(2025, 10, 13), "LOINC", "9318-7").value(343.0),
    );
    let one = person(50).diabetic().with(low.clone()).with(high.clone());
    let other = person(50).diabetic().with(high).with(low);
    let (a, b) = (one.run(M), other.run(M));
    assert_eq!(a[0].1, Open);
    assert_eq!(a[0].2, "service_expired");
    // The same event shown (its position among the events read aside).
    let shown = |rows: &[(String, _, String, GapRow)]| {
        rows.iter()
            .map(|r| r.3.evidence.map(|e| (e.date, e.value_set, e.value)))
            .collect::<Vec<_>>()
    };
    assert_eq!(shown(&a), shown(&b));
}

#[test]
fn egfr_and_uacr() {
    expect(&person(50).diabetic(), M, "total", Open, "no_service");
    let both = lab(
        lab(person(50).diabetic(), d(2026, 2, 1), "48642-3"),
        d(2026, 11, 1),
        "9318-7",
    );
    // The evidence is the latest event behind the numerator.
    expect(&both, M, "total", Closed, "uacr");
    expect(
        &lab(person(50).diabetic(), d(2026, 2, 1), "48642-3"),
        M,
        "total",
        Open,
        "no_service",
    );
    expect(
        &lab(person(50).diabetic(), d(2026, 2, 1), "9318-7"),
        M,
        "total",
        Open,
        "no_service",
    );
    let last_year = lab(
        lab(person(50).diabetic(), d(2025, 12, 31), "48642-3"),
        d(2026, 1, 1),
        "9318-7",
    );
    expect(&last_year, M, "total", Open, "service_expired");
}

#[test]
fn albumin_and_creatinine_within_four_days() {
    let base = || lab(person(50).diabetic(), d(2026, 2, 1), "62238-1");
    let four = lab(lab(base(), d(2026, 5, 1), "14957-5"), d(2026, 5, 5), "2161-8");
    expect(&four, M, "total", Closed, "urine_albumin_and_creatinine");
    let five = lab(lab(base(), d(2026, 5, 1), "14957-5"), d(2026, 5, 6), "2161-8");
    expect(&five, M, "total", Open, "no_service");
    let by_cpt = base()
        .with(ev(d(2026, 5, 3), "CPT", "82043"))
        .with(ev(d(2026, 5, 1), "CPT", "82570"));
    expect(&by_cpt, M, "total", Closed, "urine_albumin_and_creatinine");
}

#[test]
fn age_bounds_and_strata() {
    expect_no_row(&person(17).diabetic(), M);
    let old = person(85).diabetic();
    expect(&old, M, "total", Open, "no_service");
    assert_eq!(old.run(M)[0].3.stratum, Some(2));
    expect_no_row(&person(86).diabetic(), M);
}

#[test]
fn exclusions() {
    expect(
        &person(50).diabetic().with(ev(d(2015, 1, 1), "ICD10CM", "Z99.2")),
        M,
        "total",
        Excluded,
        "esrd_or_dialysis",
    );
    expect(
        &advanced_illness(frail(person(70).diabetic())),
        M,
        "total",
        Excluded,
        "advanced_illness_frailty",
    );
    expect(
        &frail(person(82).diabetic()),
        M,
        "total",
        Excluded,
        "frailty_81_plus",
    );
    expect(&frail(person(79).diabetic()), M, "total", Open, "no_service");
}
