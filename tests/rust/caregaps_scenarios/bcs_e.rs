//! Named scenarios of BCS-E (see the crate comment in main.rs).

use super::*;
const M: &str = "BCS-E";

#[test]
fn age_bounds() {
    expect_no_row(&woman(41), M);
    expect(&woman(42), M, "total", Open, "no_service");
    expect(&woman(74), M, "total", Open, "no_service");
    expect_no_row(&woman(75), M);
    expect_no_row(&person(50), M);
}

#[test]
fn window_starts_october_first_two_years_before() {
    let on = woman(55).with(ev(d(2024, 10, 1), "CPT", "77067"));
    expect(&on, M, "total", Closed, "mammogram");
    let rows = on.run(M);
    assert_eq!(rows[0].3.closed_through, Some(days(d(2026, 12, 31))));
    let before = woman(55).with(ev(d(2024, 9, 30), "CPT", "77067"));
    expect(&before, M, "total", Open, "service_expired");
    let row = &before.run(M)[0].3;
    assert_eq!(row.clinically_due_since, Some(days(d(2026, 1, 1))));
    assert_eq!(row.due_date, Some(days(d(2026, 12, 31))));
    let last_day = woman(55).with(ev(d(2026, 12, 31), "CPT", "77063"));
    expect(&last_day, M, "total", Closed, "mammogram");
}

#[test]
fn mri_alone_does_not_count() {
    expect(
        &woman(50).with(ev(d(2026, 3, 1), "CPT", "77049")),
        M,
        "total",
        Open,
        "no_service",
    );
}

#[test]
fn bilateral_mastectomy_by_code_history_or_modifier() {
    let history = woman(60).with(ev(d(2010, 1, 1), "ICD10CM", "Z90.13"));
    expect(&history, M, "total", Excluded, "bilateral_mastectomy");
    let pcs = woman(60).with(ev(d(2012, 1, 1), "ICD10PCS", "0HTV0ZZ"));
    expect(&pcs, M, "total", Excluded, "bilateral_mastectomy");
    let fifty = woman(60).with(ev(d(2015, 5, 5), "CPT", "19303").modifier("50"));
    expect(&fifty, M, "total", Excluded, "bilateral_mastectomy");
}

#[test]
fn two_unilateral_mastectomies_make_a_bilateral_one() {
    let both = woman(60)
        .with(ev(d(2014, 2, 1), "CPT", "19303").modifier("LT"))
        .with(ev(d(2021, 8, 1), "CPT", "19307").modifier("RT"));
    expect(&both, M, "total", Excluded, "bilateral_mastectomy");
    let mixed =
        woman(60)
            .with(ev(d(2014, 2, 1), "ICD10CM", "Z90.12"))
            .with(ev(d(2021, 8, 1), "ICD10PCS", "0HTT0ZZ"));
    expect(&mixed, M, "total", Excluded, "bilateral_mastectomy");
    let one = woman(60).with(ev(d(2014, 2, 1), "CPT", "19303").modifier("LT"));
    expect(&one, M, "total", Open, "no_service");
}

#[test]
fn common_exclusions() {
    expect(
        &woman(60).with(ev(d(2026, 4, 1), "HCPCS", "Q5003")),
        M,
        "total",
        Excluded,
        "hospice",
    );
    expect(&woman(60).died(d(2026, 5, 1)), M, "total", Excluded, "death");
    expect(
        &woman(60).with(ev(d(2026, 4, 1), "ICD10CM", "Z51.5")),
        M,
        "total",
        Excluded,
        "palliative_care",
    );
    let aif = advanced_illness(frail(woman(67)));
    expect(&aif, M, "total", Excluded, "advanced_illness_frailty");
    // Frailty alone is not enough at 67 for BCS-E.
    expect(&frail(woman(67)), M, "total", Open, "no_service");
    // Advanced illness and frailty below 66: no exclusion.
    expect(
        &advanced_illness(frail(woman(65))),
        M,
        "total",
        Open,
        "no_service",
    );
}

#[test]
fn institutional_medicare_66_plus() {
    let mut s = woman(67).line("medicare");
    s.spans[0].snp = Some("I-SNP");
    expect(&s, M, "total", Excluded, "institutional");
    let mut young = woman(64).line("medicare");
    young.spans[0].snp = Some("I-SNP");
    expect(&young, M, "total", Open, "no_service");
}

#[test]
fn no_gap_allowed_in_october_to_december_two_years_before() {
    let gap = woman(55).enrolled(vec![
        enr(d(2020, 1, 1), Some(d(2024, 10, 31))),
        enr(d(2024, 11, 11), None),
    ]);
    expect(&gap, M, "total", NotApplicable, "not_continuously_enrolled");
    let gap_later = woman(55).enrolled(vec![
        enr(d(2020, 1, 1), Some(d(2025, 3, 31))),
        enr(d(2025, 4, 11), None),
    ]);
    expect(&gap_later, M, "total", Open, "no_service");
}

#[test]
fn member_without_events_or_enrollment() {
    expect(&woman(50), M, "total", Open, "no_service");
    let none = woman(50).enrolled(vec![]);
    expect(&none, M, "total", NotApplicable, "not_continuously_enrolled");
    assert_eq!(none.run(M)[0].3.product_line, None);
}
