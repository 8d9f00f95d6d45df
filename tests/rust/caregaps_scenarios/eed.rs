//! Named scenarios of EED (see the crate comment in main.rs).

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
