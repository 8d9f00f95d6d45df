//! Named scenarios of CBP (see the crate comment in main.rs).

use super::*;
const M: &str = "CBP";

fn bp(s: Scenario, date: chrono::NaiveDate, sys: f64, dia: f64) -> Scenario {
    s.with(ev(date, "LOINC", "8480-6").value(sys))
        .with(ev(date, "LOINC", "8462-4").value(dia))
}

#[test]
fn hypertension_identification() {
    expect_no_row(&person(50).with(ev(d(2026, 3, 1), "ICD10CM", "I10")), M);
    expect(&person(50).hypertensive(), M, "total", Open, "no_result");
    let late = person(50)
        .with(ev(d(2026, 3, 1), "ICD10CM", "I10"))
        .with(ev(d(2026, 7, 1), "ICD10CM", "I10"));
    expect_no_row(&late, M);
    let inpatient = person(50)
        .with(ev(d(2025, 3, 1), "ICD10CM", "I10").setting("inpatient"))
        .with(ev(d(2026, 3, 1), "ICD10CM", "I10").setting("inpatient"));
    expect_no_row(&inpatient, M);
}

#[test]
fn age_bounds() {
    expect_no_row(&person(17).hypertensive(), M);
    expect(&person(18).hypertensive(), M, "total", Open, "no_result");
    expect(&person(85).hypertensive(), M, "total", Open, "no_result");
    expect_no_row(&person(86).hypertensive(), M);
}

#[test]
fn below_140_over_90() {
    expect(
        &bp(person(50).hypertensive(), d(2026, 8, 1), 139.0, 89.0),
        M,
        "total",
        Closed,
        "result_in_range",
    );
    expect(
        &bp(person(50).hypertensive(), d(2026, 8, 1), 140.0, 80.0),
        M,
        "total",
        Open,
        "result_out_of_range",
    );
    expect(
        &bp(person(50).hypertensive(), d(2026, 8, 1), 130.0, 90.0),
        M,
        "total",
        Open,
        "result_out_of_range",
    );
}

#[test]
fn lowest_systolic_and_diastolic_of_the_day() {
    let s = bp(
        bp(person(50).hypertensive(), d(2026, 8, 1), 150.0, 82.0),
        d(2026, 8, 1),
        134.0,
        95.0,
    );
    expect(&s, M, "total", Closed, "result_in_range");
}

#[test]
fn an_in_range_code_and_a_high_value_on_one_day() {
    let s = person(50)
        .hypertensive()
        .with(ev(d(2026, 8, 1), "LOINC", "8480-6").value(150.0))
        .with(ev(d(2026, 8, 1), "LOINC", "8462-4").value(82.0))
        .with(ev(d(2026, 8, 1), "CPT-II", "3075F"))
        .with(ev(d(2026, 8, 1), "CPT-II", "3080F"));
    expect(&s, M, "total", Closed, "result_in_range");
}

#[test]
fn most_recent_reading_on_or_after_the_second_diagnosis() {
    let s = bp(
        bp(person(50).hypertensive(), d(2026, 4, 1), 120.0, 70.0),
        d(2026, 10, 1),
        150.0,
        95.0,
    );
    expect(&s, M, "total", Open, "result_out_of_range");
    let before = bp(person(50).hypertensive(), d(2026, 2, 28), 120.0, 70.0);
    expect(&before, M, "total", Open, "no_result");
    let same_day = bp(person(50).hypertensive(), d(2026, 3, 1), 120.0, 70.0);
    expect(&same_day, M, "total", Closed, "result_in_range");
}

#[test]
fn emergency_readings_do_not_count() {
    let s = person(50)
        .hypertensive()
        .with(ev(d(2026, 8, 1), "LOINC", "8480-6").value(120.0).setting("ED"))
        .with(
            ev(d(2026, 8, 1), "LOINC", "8462-4")
                .value(70.0)
                .setting("emergency"),
        );
    expect(&s, M, "total", Open, "no_result");
}

#[test]
fn cpt_ii_readings() {
    let ok = person(50)
        .hypertensive()
        .with(ev(d(2026, 8, 1), "CPT-II", "3075F"))
        .with(ev(d(2026, 8, 1), "CPT-II", "3079F"));
    expect(&ok, M, "total", Closed, "result_in_range");
    let high = person(50)
        .hypertensive()
        .with(ev(d(2026, 8, 1), "CPT-II", "3077F"))
        .with(ev(d(2026, 8, 1), "CPT-II", "3078F"));
    expect(&high, M, "total", Open, "result_out_of_range");
}

#[test]
fn exclusions() {
    let esrd = person(50)
        .hypertensive()
        .with(ev(d(2020, 1, 1), "ICD10CM", "N18.6"));
    expect(
        &esrd,
        M,
        "total",
        Excluded,
        "esrd_dialysis_nephrectomy_transplant",
    );
    let pregnant = woman(30)
        .hypertensive()
        .with(ev(d(2026, 5, 1), "ICD10CM", "Z33.1"));
    expect(&pregnant, M, "total", Excluded, "pregnancy");
    expect(
        &frail(person(81).hypertensive()),
        M,
        "total",
        Excluded,
        "frailty_81_plus",
    );
    // Frailty alone at 80 is not an exclusion; with advanced illness it is.
    expect(&frail(person(80).hypertensive()), M, "total", Open, "no_result");
    expect(
        &advanced_illness(frail(person(80).hypertensive())),
        M,
        "total",
        Excluded,
        "advanced_illness_frailty",
    );
}

#[test]
fn gap_on_the_anchor_date() {
    let s = person(50)
        .hypertensive()
        .enrolled(vec![enr(d(2020, 1, 1), Some(d(2026, 12, 30)))]);
    expect(&s, M, "total", NotApplicable, "not_continuously_enrolled");
}
