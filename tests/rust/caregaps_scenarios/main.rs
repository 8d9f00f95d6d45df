//! Named care-gap scenarios for every built-in measure: age bounds, window boundaries to the day, enrollment
//! gaps, each exclusion, each numerator arm, same-day readings, missing results, the two-unilateral-mastectomy
//! case and members without events. All run against the shipped sample value sets, measurement year 2026.

#[path = "../common.rs"]
mod common;
mod harness;
mod properties;

// One file per measure.
mod bcs_e;
mod cbp;
mod ccs_e;
mod col_e;
mod eed;
mod gsd;
mod ked;
mod spd;

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
