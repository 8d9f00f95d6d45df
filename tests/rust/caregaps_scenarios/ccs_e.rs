//! Named scenarios of CCS-E (see the crate comment in main.rs).

use super::*;
const M: &str = "CCS-E";

#[test]
fn age_and_sex_bounds() {
    expect_no_row(&woman(23), M);
    expect(&woman(24), M, "total", Open, "no_service");
    expect(&woman(64), M, "total", Open, "no_service");
    expect_no_row(&woman(65), M);
    expect_no_row(&person(40), M);
}

#[test]
fn cytology_three_years_at_21_or_older() {
    let s = woman(40).with(ev(d(2024, 1, 1), "CPT", "88142"));
    expect(&s, M, "total", Closed, "cervical_cytology");
    expect(
        &woman(40).with(ev(d(2023, 12, 31), "CPT", "88175")),
        M,
        "total",
        Open,
        "service_expired",
    );
    // Youngest in the band, tested on the first day of the window.
    let of_age = woman(24)
        .born(d(2002, 12, 31))
        .with(ev(d(2024, 1, 1), "CPT", "88142"));
    expect(&of_age, M, "total", Closed, "cervical_cytology");
}

#[test]
fn hpv_five_years_at_30_or_older() {
    let s = woman(45).with(ev(d(2022, 1, 1), "CPT", "87624"));
    expect(&s, M, "total", Closed, "hpv_test");
    expect(
        &woman(45).with(ev(d(2021, 12, 31), "CPT", "87624")),
        M,
        "total",
        Open,
        "service_expired",
    );
    let young = woman(33)
        .born(d(1993, 7, 1))
        .with(ev(d(2022, 6, 30), "CPT", "87625"));
    expect(&young, M, "total", Open, "no_service");
}

#[test]
fn exclusions() {
    expect(
        &woman(50).with(ev(d(2001, 1, 1), "ICD10CM", "Z90.710")),
        M,
        "total",
        Excluded,
        "absence_of_cervix",
    );
    expect(
        &woman(50).with(ev(d(2018, 1, 1), "CPT", "58150")),
        M,
        "total",
        Excluded,
        "absence_of_cervix",
    );
    expect(
        &woman(50).with(ev(d(2026, 3, 1), "ICD10CM", "Z51.5")),
        M,
        "total",
        Excluded,
        "palliative_care",
    );
}

#[test]
fn not_reported_for_medicare() {
    expect(
        &woman(50).line("medicare"),
        M,
        "total",
        NotApplicable,
        "product_line_not_reported",
    );
}
