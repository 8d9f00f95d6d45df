//! Named scenarios of GSD (see the crate comment in main.rs).

use super::*;
const M: &str = "GSD";

fn a1c(s: Scenario, date: chrono::NaiveDate, v: f64) -> Scenario {
    s.with(ev(date, "LOINC", "4548-4").value(v))
}

fn both(s: &Scenario) -> (Option<String>, Option<String>) {
    let rows = s.run(M);
    let get = |rate: &str| rows.iter().find(|r| r.0 == rate).map(|r| format!("{:?}", r.1));
    (get("below_8"), get("above_9"))
}

#[test]
fn diabetes_identification() {
    expect_no_row(&person(50), M);
    expect_no_row(&person(50).with(ev(d(2026, 2, 1), "ICD10CM", "E11.9")), M);
    // Two diagnoses on one date are one.
    let same_day =
        person(50)
            .with(ev(d(2026, 2, 1), "ICD10CM", "E11.9"))
            .with(ev(d(2026, 2, 1), "ICD10CM", "E11.65"));
    expect_no_row(&same_day, M);
    let with_drug = person(50)
        .with(ev(d(2025, 2, 1), "ICD10CM", "E11.9"))
        .with(ev(d(2025, 2, 4), "NDC", "00093-1048-01").supply(30));
    expect(&with_drug, M, "below_8", Open, "no_result");
    expect(&person(50).diabetic(), M, "above_9", Open, "no_result");
}

#[test]
fn age_bounds() {
    expect_no_row(&person(17).diabetic(), M);
    expect(&person(18).diabetic(), M, "below_8", Open, "no_result");
    expect(&person(75).diabetic(), M, "below_8", Open, "no_result");
    expect_no_row(&person(76).diabetic(), M);
}

#[test]
fn thresholds() {
    let s = |v| a1c(person(50).diabetic(), d(2026, 6, 1), v);
    assert_eq!(both(&s(7.9)), (Some("Closed".into()), Some("Closed".into())));
    assert_eq!(both(&s(8.0)), (Some("Open".into()), Some("Closed".into())));
    assert_eq!(both(&s(9.0)), (Some("Open".into()), Some("Closed".into())));
    assert_eq!(both(&s(9.1)), (Some("Open".into()), Some("Open".into())));
    let row = &s(7.2).run(M)[0].3;
    assert_eq!(row.value, Some(7.2));
}

#[test]
fn most_recent_result_wins_and_lowest_of_the_day() {
    let later_high = a1c(a1c(person(50).diabetic(), d(2026, 2, 1), 6.5), d(2026, 9, 1), 9.5);
    expect(&later_high, M, "below_8", Open, "result_out_of_range");
    let later_low = a1c(a1c(person(50).diabetic(), d(2026, 2, 1), 9.5), d(2026, 9, 1), 6.5);
    expect(&later_low, M, "above_9", Closed, "result_in_range");
    let same_day = a1c(a1c(person(50).diabetic(), d(2026, 9, 1), 9.5), d(2026, 9, 1), 7.5);
    expect(&same_day, M, "below_8", Closed, "result_in_range");
    // Last year's result does not count.
    let last_year = a1c(person(50).diabetic(), d(2025, 12, 31), 6.0);
    expect(&last_year, M, "below_8", Open, "no_result");
}

#[test]
fn cpt_ii_result_codes_and_test_codes() {
    let low = person(50).diabetic().with(ev(d(2026, 5, 1), "CPT-II", "3044F"));
    assert_eq!(both(&low), (Some("Closed".into()), Some("Closed".into())));
    let mid = person(50).diabetic().with(ev(d(2026, 5, 1), "CPT-II", "3052F"));
    assert_eq!(both(&mid), (Some("Open".into()), Some("Closed".into())));
    let high = person(50).diabetic().with(ev(d(2026, 5, 1), "CPT-II", "3046F"));
    assert_eq!(both(&high), (Some("Open".into()), Some("Open".into())));
    let test_only = person(50).diabetic().with(ev(d(2026, 5, 1), "CPT", "83036"));
    expect(&test_only, M, "below_8", Open, "no_result");
    // A lab row without a value does not count either.
    let no_value = person(50).diabetic().with(ev(d(2026, 5, 1), "LOINC", "4548-4"));
    expect(&no_value, M, "below_8", Open, "no_result");
}

#[test]
fn gmi_is_dated_by_the_end_of_its_range() {
    let gmi = person(50).diabetic().with(
        ev(d(2025, 12, 10), "LOINC", "97506-0")
            .value(7.1)
            .until(d(2026, 1, 8)),
    );
    expect(&gmi, M, "below_8", Closed, "result_in_range");
}

#[test]
fn exclusions() {
    expect(
        &person(50).diabetic().with(ev(d(2026, 1, 5), "HCPCS", "G9473")),
        M,
        "below_8",
        Excluded,
        "hospice",
    );
    expect(
        &advanced_illness(frail(person(70).diabetic())),
        M,
        "above_9",
        Excluded,
        "advanced_illness_frailty",
    );
}
