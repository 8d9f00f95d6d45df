//! Enrollment spans and the continuous-enrollment (CE) rule: who was covered long enough to be measured.
//!
//! Spans may overlap or abut (monthly Medicaid eligibility, plan changes, separate medical and pharmacy
//! spans); coverage is their union. The rule allows, per full calendar year of the CE period, a number of
//! gaps up to a length (usually one gap of up to 45 days), fewer in a partial year at the start (BCS-E's
//! Oct-Dec), and no gap on the anchor date. When the pharmacy benefit is required, a pharmacy gap that is not
//! inside a medical gap counts as a gap of its own (NCQA's test-deck reading: two gaps, not one).

use super::criteria::resolve;
use super::criteria::Subject;
use super::definition::{DateRef, EnrollmentRule};
use crate::error::{CoreError, CoreResult};
use crate::model::values::{date_of_days, days_of_date};

/// Product lines, in the order carelake prefers when spans of two lines cover the anchor date (dual eligibles
/// are reported under Medicare; NCQA's exact assignment rules are more detailed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProductLine {
    /// Medicare (including Medicare Advantage).
    Medicare,
    /// Medicaid.
    Medicaid,
    /// Commercial.
    Commercial,
    /// Marketplace (exchange).
    Marketplace,
}

impl ProductLine {
    /// Parse the canonical value.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "medicare" => ProductLine::Medicare,
            "medicaid" => ProductLine::Medicaid,
            "commercial" => ProductLine::Commercial,
            "marketplace" => ProductLine::Marketplace,
            _ => return None,
        })
    }

    /// The canonical value.
    pub fn name(self) -> &'static str {
        match self {
            ProductLine::Medicare => "medicare",
            ProductLine::Medicaid => "medicaid",
            ProductLine::Commercial => "commercial",
            ProductLine::Marketplace => "marketplace",
        }
    }
}

/// One coverage span of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First covered day.
    pub start: i32,
    /// Last covered day (i32::MAX when open-ended).
    pub end: i32,
    /// Product line.
    pub product_line: ProductLine,
    /// Medical benefit (unknown counts as covered).
    pub medical: bool,
    /// Pharmacy benefit (unknown counts as covered).
    pub pharmacy: bool,
    /// Medicare I-SNP or long-term institution.
    pub institutional: bool,
}

/// A compiled continuous-enrollment rule.
#[derive(Debug, Clone)]
pub struct CeRule {
    from: DateRef,
    to: DateRef,
    anchor: DateRef,
    max_gaps_per_year: u32,
    max_gap_days: i32,
    partial_year_gaps: u32,
    pharmacy: bool,
}

impl CeRule {
    /// Compile a rule from its definition; `origin` names the file in errors.
    pub fn compile(rule: &EnrollmentRule, origin: &str) -> CoreResult<Self> {
        let date = |field: &str, text: &str| match DateRef::parse(text) {
            Ok(r @ DateRef::Mp { .. }) => Ok(r),
            Ok(_) => Err(CoreError::Config(format!(
                "measure definition {origin}: population.enrollment.{field}: must be a date (MP-N:MM-DD)"
            ))),
            Err(m) => Err(CoreError::Config(format!(
                "measure definition {origin}: population.enrollment.{field}: {m}"
            ))),
        };
        if rule.max_gap_days < 0 {
            return Err(CoreError::Config(format!(
                "measure definition {origin}: population.enrollment.max_gap_days: must be >= 0"
            )));
        }
        Ok(CeRule {
            from: date("from", &rule.from)?,
            to: date("to", &rule.to)?,
            anchor: date("anchor", &rule.anchor)?,
            max_gaps_per_year: rule.max_gaps_per_year,
            max_gap_days: rule.max_gap_days,
            partial_year_gaps: rule.partial_year_gaps,
            pharmacy: rule.pharmacy_benefit,
        })
    }

    /// Check a member's spans (sorted by start). Ok: the product line on the anchor date; Err: why the member
    /// is not continuously enrolled (no dates, no values: safe for logs and reasons).
    pub fn check(&self, spans: &[Span], subject: &Subject<'_>) -> Result<ProductLine, String> {
        if spans.is_empty() {
            return Err("no enrollment".into());
        }
        let (from, to, anchor) = (
            resolve(self.from, subject),
            resolve(self.to, subject),
            resolve(self.anchor, subject),
        );
        let Some(line) = product_line_on(spans, anchor) else {
            return Err("not enrolled on the anchor date".into());
        };
        let medical = gaps(spans, from, to, |s| s.medical);
        let mut all = medical.clone();
        if self.pharmacy {
            if product_line_on_with(spans, anchor, |s| s.pharmacy).is_none() {
                return Err("no pharmacy benefit on the anchor date".into());
            }
            for g in gaps(spans, from, to, |s| s.pharmacy) {
                if !medical.iter().any(|m| m.0 <= g.0 && g.1 <= m.1) {
                    all.push(g);
                }
            }
        }
        let (Some((first, _, _)), Some((last, _, _))) = (date_of_days(from), date_of_days(to)) else {
            return Err("enrollment period out of range".into());
        };
        for year in first..=last {
            let (Some(jan1), Some(dec31)) = (days_of_date(year, 1, 1), days_of_date(year, 12, 31)) else {
                return Err("enrollment period out of range".into());
            };
            let (seg_start, seg_end) = (from.max(jan1), to.min(dec31));
            let full = seg_start == jan1 && seg_end == dec31;
            let allowed = if full {
                self.max_gaps_per_year
            } else {
                self.partial_year_gaps
            };
            let mut count = 0u32;
            for &(g0, g1) in &all {
                let (a, b) = (g0.max(seg_start), g1.min(seg_end));
                if a > b {
                    continue;
                }
                count += 1;
                if b - a + 1 > self.max_gap_days {
                    return Err(format!(
                        "an enrollment gap of {} days in {year} ({} allowed)",
                        b - a + 1,
                        self.max_gap_days
                    ));
                }
            }
            if count > allowed {
                return Err(format!("{count} enrollment gaps in {year} ({allowed} allowed)"));
            }
        }
        Ok(line)
    }
}

fn product_line_on_with(spans: &[Span], day: i32, covered: impl Fn(&Span) -> bool) -> Option<ProductLine> {
    spans
        .iter()
        .filter(|s| s.start <= day && day <= s.end && covered(s))
        .map(|s| s.product_line)
        .min()
}

/// The product line covering `day` (medical benefit); with several, the preferred one (see [`ProductLine`]).
pub fn product_line_on(spans: &[Span], day: i32) -> Option<ProductLine> {
    product_line_on_with(spans, day, |s| s.medical)
}

/// The product line of the member's latest span that starts on or before `day` (for rows of members who are
/// not continuously enrolled).
pub fn latest_product_line(spans: &[Span], day: i32) -> Option<ProductLine> {
    spans
        .iter()
        .filter(|s| s.start <= day)
        .max_by_key(|s| (s.end.min(day), std::cmp::Reverse(s.product_line)))
        .map(|s| s.product_line)
}

/// Whether any Medicare I-SNP or long-term-institution span overlaps [from, to].
pub fn institutional(spans: &[Span], from: i32, to: i32) -> bool {
    spans
        .iter()
        .any(|s| s.institutional && s.product_line == ProductLine::Medicare && s.start <= to && s.end >= from)
}

/// Uncovered stretches of [from, to] (inclusive day ranges), given spans sorted by start.
fn gaps(spans: &[Span], from: i32, to: i32, covered: impl Fn(&Span) -> bool) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let mut next = from; // first day not yet known to be covered
    for s in spans.iter().filter(|s| covered(s)) {
        if s.end < next {
            continue;
        }
        if s.start > to {
            break;
        }
        if s.start > next {
            out.push((next, s.start - 1));
        }
        next = next.max(s.end.saturating_add(1));
        if next > to {
            return out;
        }
    }
    if next <= to {
        out.push((next, to));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::values::date_to_days;

    fn d(y: i32, m: u32, dd: u32) -> i32 {
        date_to_days(chrono::NaiveDate::from_ymd_opt(y, m, dd).unwrap())
    }

    fn span(a: i32, b: i32) -> Span {
        Span {
            start: a,
            end: b,
            product_line: ProductLine::Commercial,
            medical: true,
            pharmacy: true,
            institutional: false,
        }
    }

    fn rule(from: &str, pharmacy: bool) -> CeRule {
        CeRule::compile(
            &EnrollmentRule {
                from: from.into(),
                to: "MP:12-31".into(),
                anchor: "MP:12-31".into(),
                max_gaps_per_year: 1,
                max_gap_days: 45,
                partial_year_gaps: 0,
                pharmacy_benefit: pharmacy,
            },
            "test",
        )
        .unwrap()
    }

    fn subject() -> Subject<'static> {
        Subject {
            events: &[],
            year: 2026,
            age: 50,
            birth: None,
            deceased: None,
            institutional: false,
            denominator_date: None,
        }
    }

    #[test]
    fn continuous_enrollment_gap_rules() {
        let r = rule("MP:01-01", false);
        let s = subject();
        assert!(r.check(&[span(d(2020, 1, 1), i32::MAX)], &s).is_ok());
        // One 45-day gap: allowed. 46 days: not.
        let ok = [
            span(d(2026, 1, 1), d(2026, 2, 28)),
            span(d(2026, 4, 15), d(2026, 12, 31)),
        ];
        assert!(r.check(&ok, &s).is_ok());
        let long = [
            span(d(2026, 1, 1), d(2026, 2, 28)),
            span(d(2026, 4, 16), d(2026, 12, 31)),
        ];
        assert!(r.check(&long, &s).unwrap_err().contains("46 days"));
        // Two short gaps.
        let two = [
            span(d(2026, 1, 1), d(2026, 2, 28)),
            span(d(2026, 3, 10), d(2026, 6, 30)),
            span(d(2026, 7, 10), d(2026, 12, 31)),
        ];
        assert!(r.check(&two, &s).unwrap_err().contains("2 enrollment gaps"));
        // Gap on the anchor date.
        let anchor = [span(d(2026, 1, 1), d(2026, 12, 30))];
        assert!(r.check(&anchor, &s).unwrap_err().contains("anchor"));
        // Overlapping and abutting spans are one coverage.
        let overlap = [
            span(d(2026, 1, 1), d(2026, 7, 31)),
            span(d(2026, 6, 1), d(2026, 12, 31)),
        ];
        assert!(r.check(&overlap, &s).is_ok());
    }

    #[test]
    fn pharmacy_gap_counts_as_a_second_gap() {
        let r = rule("MP:01-01", true);
        let s = subject();
        let mut spans = vec![
            span(d(2026, 1, 1), d(2026, 2, 28)),
            span(d(2026, 3, 20), d(2026, 12, 31)),
        ];
        assert!(
            r.check(&spans, &s).is_ok(),
            "the same gap in both benefits is one gap"
        );
        spans.push(Span {
            pharmacy: false,
            ..span(d(2026, 3, 20), d(2026, 12, 31))
        });
        spans[1].end = d(2026, 8, 31);
        spans[2].start = d(2026, 9, 1);
        spans.push(Span {
            medical: false,
            ..span(d(2026, 9, 20), d(2026, 12, 31))
        });
        assert!(r.check(&spans, &s).unwrap_err().contains("2 enrollment gaps"));
    }
}
