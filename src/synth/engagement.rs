//! Appointments, consents and communications of one person: what the outreach stage reads.
//!
//! Consents include opt-outs that revoke an earlier opt-in; communications include inbound STOP replies, half of
//! which have no matching consent revocation yet (the next run must honor them from the reply itself).

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::population::Person;
use super::records::{PersonKeys, EHR};
use super::rng::Rng;
use crate::model::BatchBuilder;

/// Writers for one chunk's engagement tables.
pub struct EngagementSinks<'a> {
    /// appointments rows.
    pub appointments: &'a mut BatchBuilder,
    /// consents rows.
    pub consents: &'a mut BatchBuilder,
    /// communications rows.
    pub communications: &'a mut BatchBuilder,
}

const APPOINTMENT_TYPES: &[&str] = &[
    "annual_wellness",
    "follow_up",
    "sick_visit",
    "screening",
    "mammogram",
    "colonoscopy",
];
const PROVIDERS: &[&str] = &[
    "Dr. Alvarez",
    "Dr. Chen",
    "Dr. Okafor",
    "Dr. Smith",
    "Dr. Patel",
    "Dr. Novak",
    "NP Rivera",
];
const LOCATIONS: &[&str] = &[
    "Main Street Clinic",
    "Northside Family Medicine",
    "Lakeview Imaging",
    "Downtown Health Center",
];

/// Write the person's appointments, consents and communications.
pub fn plant_engagement(
    person: &Person,
    keys: &PersonKeys,
    rng: &mut Rng,
    as_of: NaiveDate,
    sinks: EngagementSinks<'_>,
) {
    let offset = person.address.place.utc_offset;
    let local = |date: NaiveDate, hour: u32, minute: u32| -> DateTime<Utc> {
        date.and_hms_opt(hour, minute, 0).expect("valid time").and_utc() - Duration::hours(i64::from(offset))
    };
    let person_tag = person.index;

    // Appointments live in the EHR's scheduling system.
    if let Some(ehr) = keys.ehr.first() {
        let mut n = 0u32;
        let mut appointment = |rng: &mut Rng, date: NaiveDate, status: &str, out: &mut BatchBuilder| {
            n += 1;
            let id = format!("A{person_tag:010}{n:02}");
            let hour = rng.range(8, 16) as u32;
            let minute = [0, 15, 30, 45][rng.below(4) as usize];
            out.text(Some(&id))
                .text(Some(EHR))
                .text(Some(ehr))
                .text(None)
                .timestamp(Some(local(date, hour, minute)))
                .text(Some(status))
                .text(Some(rng.pick(APPOINTMENT_TYPES)))
                .text(Some(rng.pick(PROVIDERS)))
                .text(Some(rng.pick(LOCATIONS)));
            out.end_row();
        };
        for _ in 0..rng.range(0, 2) {
            let d = as_of - Duration::days(rng.range(1, 365));
            let status = match rng.below(10) {
                0 => "no_show",
                1 => "cancelled",
                _ => "completed",
            };
            appointment(rng, d, status, sinks.appointments);
        }
        if rng.chance(0.3) {
            let d = as_of + Duration::days(rng.range(1, 21));
            let status = if rng.chance(0.6) { "booked" } else { "confirmed" };
            appointment(rng, d, status, sinks.appointments);
        }
    }

    let Some((system, record)) = keys.engagement_key() else {
        return;
    };
    let when = |rng: &mut Rng, lo: i64, hi: i64| -> DateTime<Utc> {
        (as_of - Duration::days(rng.range(lo, hi)))
            .and_hms_opt(rng.range(0, 23) as u32, rng.range(0, 59) as u32, 0)
            .expect("valid time")
            .and_utc()
    };
    let mut consent = |channel: &str,
                       purpose: &str,
                       status: &str,
                       basis: &str,
                       contact: Option<&str>,
                       at: DateTime<Utc>,
                       source: &str| {
        sinks
            .consents
            .text(Some(system))
            .text(Some(record))
            .text(None)
            .text(Some(channel))
            .text(Some(purpose))
            .text(Some(status))
            .text(Some(basis))
            .text(contact)
            .timestamp(Some(at))
            .text(Some(source));
        sinks.consents.end_row();
    };
    let phone = person.mobile.as_str();
    if rng.chance(0.6) {
        let at = when(rng, 200, 1_500);
        consent(
            "sms",
            "care_reminders",
            "opt_in",
            "prior_express",
            Some(phone),
            at,
            "front_desk",
        );
        if rng.chance(0.5) {
            consent(
                "sms",
                "care_gaps",
                "opt_in",
                "prior_express",
                Some(phone),
                at,
                "front_desk",
            );
        }
        if rng.chance(0.08) {
            let revoked = when(rng, 1, 180);
            consent("sms", "all", "opt_out", "none", Some(phone), revoked, "sms_reply");
        }
    }
    if let Some(email) = &person.email {
        if rng.chance(0.55) {
            let at = when(rng, 100, 1_200);
            consent(
                "email",
                "care_gaps",
                "opt_in",
                "prior_express",
                Some(email),
                at,
                "portal",
            );
            if rng.chance(0.3) {
                consent(
                    "email",
                    "marketing",
                    "opt_in",
                    "written",
                    Some(email),
                    at,
                    "portal",
                );
            }
            if rng.chance(0.05) {
                let revoked = when(rng, 1, 90);
                consent(
                    "email",
                    "marketing",
                    "opt_out",
                    "none",
                    Some(email),
                    revoked,
                    "unsubscribe_link",
                );
            }
        }
    }
    if rng.chance(0.15) {
        let at = when(rng, 30, 900);
        consent(
            "voice",
            "care_reminders",
            "opt_in",
            "prior_express",
            Some(phone),
            at,
            "front_desk",
        );
    }
    if rng.chance(0.2) {
        let at = when(rng, 30, 700);
        consent("ads", "marketing", "opt_in", "written", None, at, "portal");
    }
    // About one person in 400 asked the care team never to contact them (a do-not-contact request). Chosen by
    // index, not drawn, so the rest of the generated data stays the same.
    if person_tag % 400 == 17 {
        let at = (as_of - Duration::days(30 + (person_tag % 300) as i64))
            .and_hms_opt(15, 0, 0)
            .expect("valid time")
            .and_utc();
        consent("all", "all", "opt_out", "none", None, at, "care_team");
    }

    // Outreach history and replies.
    let mut m = 0u32;
    let mut message = |channel: &str,
                       direction: &str,
                       audience: Option<&str>,
                       template: Option<&str>,
                       at: DateTime<Utc>,
                       status: &str,
                       keyword: Option<&str>| {
        m += 1;
        let id = format!("MSG{person_tag:010}{m:03}");
        sinks
            .communications
            .text(Some(&id))
            .text(Some(system))
            .text(Some(record))
            .text(None)
            .text(Some(channel))
            .text(Some(direction))
            .text(audience)
            .text(template)
            .timestamp(Some(at))
            .text(Some(status))
            .text(keyword);
        sinks.communications.end_row();
    };
    if rng.chance(0.4) {
        for _ in 0..rng.range(1, 4) {
            let at = when(rng, 1, 90);
            let (channel, template) = if rng.chance(0.6) {
                ("sms", "appointment_reminder_v2")
            } else {
                ("email", "screening_recall_v1")
            };
            // A vendor status outside the canonical set ("bounced") is quarantined at ingest.
            let status = match rng.below(200) {
                0..=9 => "failed",
                10..=19 => "queued",
                20 => "bounced",
                _ => "delivered",
            };
            message(
                channel,
                "outbound",
                Some("appointment_reminders"),
                Some(template),
                at,
                status,
                None,
            );
        }
        if rng.chance(0.08) {
            let at = when(rng, 1, 60);
            let keyword = match rng.below(10) {
                0..=5 => "STOP",
                6 => "UNSUBSCRIBE",
                7 => "HELP",
                _ => "YES",
            };
            let status = if matches!(keyword, "STOP" | "UNSUBSCRIBE") {
                "opted_out"
            } else {
                "replied"
            };
            message("sms", "inbound", None, None, at, status, Some(keyword));
        }
    }
}
