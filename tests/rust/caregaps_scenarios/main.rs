//! Named care-gap scenarios for every built-in measure: age bounds, window boundaries to the day, enrollment
//! gaps, each exclusion, each numerator arm, same-day readings, missing results, the two-unilateral-mastectomy
//! case and members without events. All run against the shipped sample value sets, measurement year 2026.

#[path = "../common.rs"]
mod common;
mod harness;
mod properties;

use _native::caregaps::evaluate::GapRow;
use _native::caregaps::Status::{Closed, Excluded, NotApplicable, Open};
use harness::{d, enr, ev, expect, expect_no_row, Enr, Scenario, YEAR};

fn woman(age: i32) -> Scenario {
    Scenario::aged(age, "F")
}

fn person(age: i32) -> Scenario {
    Scenario::aged(age, "M")
}

fn frail(s: Scenario) -> Scenario {
    s.with(ev(d(YEAR, 2, 1), "ICD10CM", "R54"))
        .with(ev(d(YEAR, 6, 1), "ICD10CM", "R54"))
}

fn advanced_illness(s: Scenario) -> Scenario {
    s.with(ev(d(YEAR - 1, 3, 1), "ICD10CM", "F03.90"))
        .with(ev(d(YEAR, 4, 1), "ICD10CM", "F03.90"))
}

fn days(date: chrono::NaiveDate) -> i32 {
    _native::model::values::date_to_days(date)
}

mod bcs_e {
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
        let mixed = woman(60).with(ev(d(2014, 2, 1), "ICD10CM", "Z90.12")).with(ev(
            d(2021, 8, 1),
            "ICD10PCS",
            "0HTT0ZZ",
        ));
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
}

mod col_e {
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
}

mod ccs_e {
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
}

mod gsd {
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
        let same_day = person(50).with(ev(d(2026, 2, 1), "ICD10CM", "E11.9")).with(ev(
            d(2026, 2, 1),
            "ICD10CM",
            "E11.65",
        ));
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
}

mod cbp {
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
        let late =
            person(50)
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
}

mod eed {
    use super::*;
    const M: &str = "EED";

    #[test]
    fn exam_by_an_eye_care_professional() {
        expect(&person(50).diabetic(), M, "total", Open, "no_service");
        let oph = person(50)
            .diabetic()
            .with(ev(d(2026, 4, 1), "CPT", "92014").taxonomy("207W00000X"));
        expect(&oph, M, "total", Closed, "retinal_exam");
        let opt = person(50)
            .diabetic()
            .with(ev(d(2026, 4, 1), "CPT", "92250").taxonomy("152W00000X"));
        expect(&opt, M, "total", Closed, "retinal_exam");
        let pcp = person(50)
            .diabetic()
            .with(ev(d(2026, 4, 1), "CPT", "92014").taxonomy("207Q00000X"));
        expect(&pcp, M, "total", Open, "no_service");
        let last_year = person(50)
            .diabetic()
            .with(ev(d(2025, 4, 1), "CPT", "92014").taxonomy("207W00000X"));
        expect(&last_year, M, "total", Open, "service_expired");
    }

    #[test]
    fn result_codes() {
        let with_retinopathy = person(50).diabetic().with(ev(d(2026, 4, 1), "CPT-II", "2022F"));
        expect(&with_retinopathy, M, "total", Closed, "retinal_exam_result");
        let negative_last_year = person(50).diabetic().with(ev(d(2025, 1, 1), "CPT-II", "2023F"));
        expect(
            &negative_last_year,
            M,
            "total",
            Closed,
            "negative_exam_prior_year",
        );
        let positive_last_year = person(50).diabetic().with(ev(d(2025, 6, 1), "CPT-II", "2022F"));
        expect(&positive_last_year, M, "total", Open, "service_expired");
        let two_years_ago = person(50).diabetic().with(ev(d(2024, 12, 31), "CPT-II", "2023F"));
        expect(&two_years_ago, M, "total", Open, "service_expired");
        let low_risk = person(50).diabetic().with(ev(d(2026, 2, 1), "CPT-II", "3072F"));
        expect(&low_risk, M, "total", Closed, "negative_exam_prior_year");
    }

    #[test]
    fn bilateral_enucleation() {
        let s = person(50)
            .diabetic()
            .with(ev(d(2010, 1, 1), "CPT", "65091").modifier("50"));
        expect(&s, M, "total", Closed, "bilateral_enucleation");
        let one = person(50)
            .diabetic()
            .with(ev(d(2010, 1, 1), "CPT", "65091").modifier("LT"));
        expect(&one, M, "total", Open, "no_service");
    }

    #[test]
    fn bounds_and_exclusions() {
        expect_no_row(&person(76).diabetic(), M);
        expect(
            &person(50).diabetic().with(ev(d(2026, 1, 5), "UBREV", "115")),
            M,
            "total",
            Excluded,
            "hospice",
        );
        expect(
            &person(50).diabetic().died(d(2026, 11, 1)),
            M,
            "total",
            Excluded,
            "death",
        );
    }
}

mod ked {
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
}

mod spd {
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
}
