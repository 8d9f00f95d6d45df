//! Enrollment spans: product lines, plans, SNP types, long-term institution flags, and realistic coverage gaps
//! (short gaps allowed by the continuous-enrollment rule, long ones, two gaps, late starts, disenrollment).

use chrono::{Datelike, Duration, NaiveDate};

use super::events::ymd;
use super::records::CLAIMS;
use super::rng::Rng;
use crate::model::BatchBuilder;

/// What the enrollment drawn for a person implies for the measures.
#[derive(Debug, Clone, Copy)]
pub(super) struct Coverage {
    /// Medicare I-SNP or long-term institution (excluded from most measures at 66+).
    pub(super) institutional: bool,
}

/// Enrollment spans with realistic gaps.
pub(super) fn enrollment(
    claims_id: &str,
    rng: &mut Rng,
    as_of: NaiveDate,
    age: i32,
    out: &mut BatchBuilder,
) -> Coverage {
    let my = as_of.year();
    let product_line = if age >= 65 {
        if rng.chance(0.88) {
            "medicare"
        } else {
            "commercial"
        }
    } else if age < 19 {
        if rng.chance(0.45) {
            "medicaid"
        } else {
            "commercial"
        }
    } else {
        match rng.below(100) {
            0..=61 => "commercial",
            62..=89 => "medicaid",
            _ => "marketplace",
        }
    };
    let plan_id = match product_line {
        "medicare" => {
            if rng.chance(0.7) {
                "MCR-ADV-01"
            } else {
                "MCR-ADV-02"
            }
        }
        "medicaid" => "MCD-HMO-01",
        "marketplace" => "MKT-SLV-01",
        _ => {
            if rng.chance(0.6) {
                "COM-PPO-01"
            } else {
                "COM-HMO-02"
            }
        }
    };
    let snp_type = (product_line == "medicare")
        .then(|| match rng.below(100) {
            0..=2 => Some("I-SNP"),
            3..=10 => Some("D-SNP"),
            11..=13 => Some("C-SNP"),
            _ => None,
        })
        .flatten();
    let lti = product_line == "medicare" && age >= 75 && rng.chance(0.03);
    let pharmacy = rng.chance(0.92);

    // Coverage as a list of (start, end) spans over MY-2 .. MY.
    let start = ymd(my - 2, 1, 1);
    let end = ymd(my, 12, 31);
    let mut spans: Vec<(NaiveDate, Option<NaiveDate>)> = Vec::new();
    let scenario = rng.below(100);
    let gap = |rng: &mut Rng, lo: i64, hi: i64| {
        let len = rng.range(lo, hi);
        let gap_start = ymd(my, 2, 1) + Duration::days(rng.range(0, 200));
        (gap_start, gap_start + Duration::days(len - 1))
    };
    match scenario {
        0..=77 => spans.push((
            start - Duration::days(rng.range(0, 2_000)),
            if rng.chance(0.3) { None } else { Some(end) },
        )),
        78..=85 => {
            let (g0, g1) = gap(rng, 15, 44);
            spans.push((start, Some(g0 - Duration::days(1))));
            spans.push((g1 + Duration::days(1), Some(end)));
        }
        86..=90 => {
            let (g0, g1) = gap(rng, 46, 120);
            spans.push((start, Some(g0 - Duration::days(1))));
            spans.push((g1 + Duration::days(1), Some(end)));
        }
        91..=94 => {
            // Two short gaps in one year: not continuously enrolled.
            spans.push((start, Some(ymd(my, 2, 28))));
            spans.push((ymd(my, 3, 31), Some(ymd(my, 7, 31))));
            spans.push((ymd(my, 8, 31), Some(end)));
        }
        95..=97 => spans.push((ymd(my - 1, 1, 1) + Duration::days(rng.range(30, 300)), Some(end))),
        _ => spans.push((start, Some(ymd(my, 10, 31)))), // disenrolled before the anchor date
    }
    // Medicaid eligibility is often recorded month by month.
    let monthly = product_line == "medicaid" && rng.chance(0.5);
    for (span_start, span_end) in spans {
        if monthly {
            let mut month = NaiveDate::from_ymd_opt(span_start.year(), span_start.month(), 1)
                .expect("month start")
                .max(start);
            let last = span_end.unwrap_or(end);
            while month <= last {
                let next = month
                    .checked_add_months(chrono::Months::new(1))
                    .expect("next month");
                let s = month.max(span_start);
                let e = (next - Duration::days(1)).min(last);
                write_span(
                    out,
                    claims_id,
                    s,
                    Some(e),
                    product_line,
                    plan_id,
                    pharmacy,
                    snp_type,
                    lti,
                );
                month = next;
            }
        } else {
            write_span(
                out,
                claims_id,
                span_start,
                span_end,
                product_line,
                plan_id,
                pharmacy,
                snp_type,
                lti,
            );
        }
    }
    Coverage {
        institutional: snp_type == Some("I-SNP") || lti,
    }
}

#[allow(clippy::too_many_arguments)]
fn write_span(
    out: &mut BatchBuilder,
    claims_id: &str,
    start: NaiveDate,
    end: Option<NaiveDate>,
    product_line: &str,
    plan_id: &str,
    pharmacy: bool,
    snp_type: Option<&str>,
    lti: bool,
) {
    out.text(Some(CLAIMS))
        .text(Some(claims_id))
        .text(None)
        .date(Some(start))
        .date(end)
        .text(Some(product_line))
        .text(Some(plan_id))
        .boolean(Some(true))
        .boolean(Some(pharmacy))
        .text(snp_type)
        .boolean(Some(lti));
    out.end_row();
}
