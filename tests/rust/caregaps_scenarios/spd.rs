//! Named scenarios of SPD (see the crate comment in main.rs).

use super::*;
const M: &str = "SPD";

fn fill(s: Scenario, date: chrono::NaiveDate, supply: i64) -> Scenario {
    s.with(ev(date, "NDC", "00071015523").supply(supply))
}

#[test]
fn received_statin_and_adherence() {
    let none = person(50).diabetic();
    expect(&none, M, "received_statin", Open, "no_service");
    expect(&none, M, "adherence_80", NotApplicable, "requires_other_rate");
    let mut s = person(50).diabetic();
    for m in [1, 4, 7, 10] {
        s = fill(s, d(2026, m, 10), 92);
    }
    expect(&s, M, "received_statin", Closed, "statin_dispensed");
    expect(&s, M, "adherence_80", Closed, "adherent");
    let once = fill(person(50).diabetic(), d(2026, 1, 10), 30);
    expect(&once, M, "received_statin", Closed, "statin_dispensed");
    expect(&once, M, "adherence_80", Open, "not_adherent");
    let row = once.run(M).into_iter().find(|r| r.0 == "adherence_80").unwrap().3;
    assert_eq!(row.value, Some(0.084));
}

#[test]
fn overlapping_fills_are_shifted() {
    let s = fill(
        fill(person(50).diabetic(), d(2026, 1, 1), 180),
        d(2026, 3, 1),
        180,
    );
    expect(&s, M, "adherence_80", Closed, "adherent");
}

#[test]
fn last_year_fill_does_not_count() {
    let s = fill(person(50).diabetic(), d(2025, 12, 1), 90);
    expect(&s, M, "received_statin", Open, "service_expired");
}

#[test]
fn fills_without_days_supply_cover_nothing() {
    let s = person(50)
        .diabetic()
        .with(ev(d(2026, 1, 10), "NDC", "00071015523"));
    expect(&s, M, "adherence_80", Open, "not_adherent");
}

#[test]
fn age_bounds_and_ascvd() {
    expect_no_row(&person(39).diabetic(), M);
    expect(&person(40).diabetic(), M, "received_statin", Open, "no_service");
    expect_no_row(&person(76).diabetic(), M);
    expect_no_row(
        &person(60).diabetic().with(ev(d(2025, 3, 1), "ICD10CM", "I21.9")),
        M,
    );
    let ivd_both = person(60)
        .diabetic()
        .with(ev(d(2025, 3, 1), "ICD10CM", "I25.10"))
        .with(ev(d(2026, 3, 1), "ICD10CM", "I25.10"));
    expect_no_row(&ivd_both, M);
    let ivd_once = person(60).diabetic().with(ev(d(2026, 3, 1), "ICD10CM", "I25.10"));
    expect(&ivd_once, M, "received_statin", Open, "no_service");
}

#[test]
fn exclusions() {
    let myalgia = person(50).diabetic().with(ev(d(2026, 3, 1), "ICD10CM", "M79.10"));
    expect(
        &myalgia,
        M,
        "received_statin",
        Excluded,
        "myalgia_myositis_myopathy_rhabdomyolysis",
    );
    expect(
        &myalgia,
        M,
        "adherence_80",
        Excluded,
        "myalgia_myositis_myopathy_rhabdomyolysis",
    );
    let cirrhosis = person(50).diabetic().with(ev(d(2025, 3, 1), "ICD10CM", "K74.60"));
    expect(&cirrhosis, M, "received_statin", Excluded, "cirrhosis");
    let old_cirrhosis = person(50).diabetic().with(ev(d(2024, 3, 1), "ICD10CM", "K74.60"));
    expect(&old_cirrhosis, M, "received_statin", Open, "no_service");
    let pregnant = woman(41).diabetic().with(ev(d(2025, 8, 1), "ICD10CM", "Z33.1"));
    expect(
        &pregnant,
        M,
        "received_statin",
        Excluded,
        "pregnancy_ivf_clomiphene",
    );
}

#[test]
fn pharmacy_benefit_required() {
    let mut s = person(50).diabetic();
    s.spans[0].pharmacy = false;
    expect(
        &s,
        M,
        "received_statin",
        NotApplicable,
        "not_continuously_enrolled",
    );
    // The same member is measured for KED (no pharmacy rule).
    expect(&s, "KED", "total", Open, "no_service");
}
