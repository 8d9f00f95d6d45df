//! Named scenarios of COL-E (see the crate comment in main.rs).

use super::*;
const M: &str = "COL-E";

#[test]
fn age_bounds_and_strata() {
    expect_no_row(&person(45), M);
    let young = person(46);
    expect(&young, M, "total", Open, "no_service");
    assert_eq!(young.run(M)[0].3.stratum, Some(0));
    assert_eq!(person(50).run(M)[0].3.stratum, Some(1));
    expect(&person(75), M, "total", Open, "no_service");
    expect_no_row(&person(76), M);
}

#[test]
fn colonoscopy_ten_calendar_years() {
    expect(
        &person(60).with(ev(d(2017, 1, 1), "CPT", "45378")),
        M,
        "total",
        Closed,
        "colonoscopy",
    );
    let old = person(60).with(ev(d(2016, 12, 31), "CPT", "45378"));
    expect(&old, M, "total", Open, "service_expired");
    assert_eq!(old.run(M)[0].3.clinically_due_since, Some(days(d(2026, 1, 1))));
    let hcpcs = person(60).with(ev(d(2020, 6, 1), "HCPCS", " g0121 "));
    expect(&hcpcs, M, "total", Closed, "colonoscopy");
    let row = &hcpcs.run(M)[0].3;
    assert_eq!(row.closed_through, Some(days(d(2029, 12, 31))));
}

#[test]
fn fobt_this_year_only() {
    expect(
        &person(60).with(ev(d(2026, 1, 1), "CPT", "82274")),
        M,
        "total",
        Closed,
        "fobt",
    );
    expect(
        &person(60).with(ev(d(2025, 12, 31), "CPT", "82274")),
        M,
        "total",
        Open,
        "service_expired",
    );
}

#[test]
fn sdna_three_years_sigmoidoscopy_and_ct_five() {
    expect(
        &person(60).with(ev(d(2024, 1, 1), "CPT", "81528")),
        M,
        "total",
        Closed,
        "sdna_fit",
    );
    expect(
        &person(60).with(ev(d(2023, 12, 31), "CPT", "81528")),
        M,
        "total",
        Open,
        "service_expired",
    );
    expect(
        &person(60).with(ev(d(2022, 1, 1), "CPT", "45330")),
        M,
        "total",
        Closed,
        "flexible_sigmoidoscopy",
    );
    expect(
        &person(60).with(ev(d(2021, 12, 31), "CPT", "74263")),
        M,
        "total",
        Open,
        "service_expired",
    );
    expect(
        &person(60).with(ev(d(2022, 2, 1), "CPT", "74263")),
        M,
        "total",
        Closed,
        "ct_colonography",
    );
}

#[test]
fn the_longest_lasting_arm_is_the_evidence() {
    let s = person(60)
        .with(ev(d(2026, 2, 1), "CPT", "82270"))
        .with(ev(d(2025, 5, 1), "CPT", "45380"));
    expect(&s, M, "total", Closed, "colonoscopy");
}

#[test]
fn exclusions_any_time_before() {
    expect(
        &person(60).with(ev(d(2019, 1, 1), "ICD10CM", "C189")),
        M,
        "total",
        Excluded,
        "colorectal_cancer",
    );
    expect(
        &person(60).with(ev(d(2011, 1, 1), "CPT", "44150")),
        M,
        "total",
        Excluded,
        "total_colectomy",
    );
    expect(
        &advanced_illness(frail(person(70))),
        M,
        "total",
        Excluded,
        "advanced_illness_frailty",
    );
}

#[test]
fn two_year_enrollment_one_gap_each_year() {
    let one_each = person(60).enrolled(vec![
        enr(d(2024, 1, 1), Some(d(2025, 3, 31))),
        enr(d(2025, 5, 1), Some(d(2026, 6, 30))),
        enr(d(2026, 8, 1), None),
    ]);
    expect(&one_each, M, "total", Open, "no_service");
    let two_in_2025 = person(60).enrolled(vec![
        enr(d(2024, 1, 1), Some(d(2025, 3, 31))),
        enr(d(2025, 5, 1), Some(d(2025, 6, 30))),
        enr(d(2025, 8, 1), None),
    ]);
    expect(
        &two_in_2025,
        M,
        "total",
        NotApplicable,
        "not_continuously_enrolled",
    );
    let anchor = person(60).enrolled(vec![enr(d(2020, 1, 1), Some(d(2026, 12, 30)))]);
    expect(&anchor, M, "total", NotApplicable, "not_continuously_enrolled");
    let monthly: Vec<Enr> = (1..=12)
        .flat_map(|m| {
            [2025, 2026].map(|y| {
                let start = d(y, m, 1);
                let end = start
                    .checked_add_months(chrono::Months::new(1))
                    .unwrap()
                    .pred_opt()
                    .unwrap();
                enr(start, Some(end))
            })
        })
        .filter(|e| e.start != d(2026, 5, 1))
        .collect();
    let s = person(60).enrolled(monthly).line("medicaid");
    expect(&s, M, "total", Open, "no_service");
}
