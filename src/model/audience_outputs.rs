//! Output tables of the audience stage: members, enter/exit events, suppressions and per-destination change sets.

use super::spec::{CanonicalType as T, ColumnSpec as C, TableSpec};

/// Current members of each audience and destination, with channel and send window (also the state the next
/// run's diff starts from).
pub fn audience_members() -> TableSpec {
    TableSpec {
        name: "audience_members",
        comment: "Audiences: current members of each audience per destination, with the chosen channel, the next allowed send window (local time and UTC) and a hash of the fields sent. Outreach tools read the change sets in outreach_<destination>.",
        person_key: false,
        columns: vec![
            C::key("audience", T::Text, "Audience name."),
            C::key("destination", T::Text, "Destination name (outreach_<destination> holds its change sets)."),
            C::key("member_id", T::Text, "carelake member id.").ordered(),
            C::required("channel", T::Text, "Channel chosen by preference, reachability and consent: sms, voice, email, mail or ads."),
            C::required("purpose", T::Text, "Purpose of the audience: care_reminders, care_gaps, marketing or billing."),
            C::required("consent_basis", T::Text, "Consent basis on record for the channel and purpose: none, prior_express or written."),
            C::optional("window_start_local", T::Text, "Start of the next allowed send window in the member's local time (phone channels)."),
            C::optional("window_end_local", T::Text, "End of that window, local time."),
            C::optional("window_start_utc", T::Timestamp, "Start of the window in UTC."),
            C::optional("window_end_utc", T::Timestamp, "End of the window in UTC."),
            C::optional("quiet_hours_rule", T::Text, "Quiet-hours rule that set the window (QUIET_HOURS_FEDERAL, QUIET_HOURS_FL, ...)."),
            C::required("local_send_date", T::Date, "Local date the message goes out on (part of the idempotency key)."),
            C::required("row_hash", T::Text, "SHA-256 of the member id and the payload sent (its first 128 bits, as 32 hex characters): a change makes the next run send an update.").digest(),
            C::required("emitted_at", T::Timestamp, "Run instant at which this payload was last emitted to the destination (a failure reported later makes the next run send it again)."),
            C::key("run_id", T::Text, "Run that computed the membership."),
        ],
    }
}

/// Enter and exit events per member and audience.
pub fn audience_events() -> TableSpec {
    TableSpec {
        name: "audience_events",
        comment: "Audiences: a member entering or leaving an audience (per destination), one row per change per run; the first run writes an enter for every member.",
        person_key: false,
        columns: vec![
            C::key("run_id", T::Text, "Run in which the change happened."),
            C::key("audience", T::Text, "Audience name."),
            C::key("destination", T::Text, "Destination name."),
            C::key("member_id", T::Text, "carelake member id.").ordered(),
            C::key("event", T::Text, "enter or exit."),
            C::required("as_of", T::Date, "As-of date of the run."),
        ],
    }
}

/// Members of an audience's SQL who were left out, and the rule that did it.
pub fn suppressions() -> TableSpec {
    TableSpec {
        name: "suppressions",
        comment: "Audiences: every member an audience's SQL selected but policy left out, with the rule that did it (consent, opt-out, quiet hours, caps, reachability, holdout, exclusion, priority, deceased).",
        person_key: false,
        columns: vec![
            C::key("run_id", T::Text, "Run that decided."),
            C::key("audience", T::Text, "Audience name."),
            C::key("member_id", T::Text, "carelake member id.").ordered(),
            C::key("rule", T::Text, "Rule id, e.g. CONSENT_OPTED_OUT, CONSENT_NONE, CONSENT_OTHER_CONTACT_POINT, UNREACHABLE_NO_VALID_PHONE, TIME_ZONE_UNKNOWN, CAP_HEALTHCARE_1_PER_DAY, HOLDOUT, AUDIENCE_BELOW_MINIMUM_SIZE, EXCLUDED_BY_AUDIENCE, LOWER_PRIORITY, DECEASED, UNKNOWN_MEMBER."),
            C::required("detail", T::Text, "Readable detail (rules and channels, never patient values)."),
            C::required("as_of", T::Date, "As-of date of the run."),
        ],
    }
}

/// The change set of one destination.
pub fn outreach(destination: &str) -> TableSpec {
    TableSpec {
        name: Box::leak(format!("outreach_{destination}").into_boxed_str()),
        comment: "Reverse ETL change set for one outreach tool: one row per member to add or update (upsert) or remove (delete) in this run, with only the fields allowed for the tool and an idempotency key per send (member, audience, destination, local send date). Rows appear once: re-running the same as-of date adds nothing.",
        person_key: false,
        columns: vec![
            C::key("run_id", T::Text, "Run that produced the change."),
            C::key("audience", T::Text, "Audience name."),
            C::key("member_id", T::Text, "carelake member id.").ordered(),
            C::key("op", T::Text, "upsert or delete."),
            C::key("idempotency_key", T::Text, "Hash of member, audience, destination and local send date: a tool that sees it twice must send once.").digest(),
            C::optional("channel", T::Text, "Channel to use."),
            C::optional("payload", T::Text, "JSON of the fields allowed for this destination (hashed identifiers only for ad platforms).").scattered(),
            C::optional("window_start_utc", T::Timestamp, "Earliest send time (UTC) within quiet hours and caps."),
            C::optional("window_end_utc", T::Timestamp, "Latest send time (UTC)."),
            C::required("as_of", T::Date, "As-of date of the run."),
        ],
    }
}

/// One row per run, audience and destination, in the style of Hightouch's sync_runs.
pub fn sync_runs() -> TableSpec {
    TableSpec {
        name: "sync_runs",
        comment: "Audiences: one row per run, audience and destination with the planned adds, changes and removes of its change set (the sync log in the warehouse, as Hightouch's sync_runs).",
        person_key: false,
        columns: vec![
            C::key("run_id", T::Text, "Run."),
            C::key("audience", T::Text, "Audience name."),
            C::key("destination", T::Text, "Destination name."),
            C::required("destination_kind", T::Text, "Kind: sms, email, voice, crm, file_drop, ads_meta, ads_google."),
            C::required("members", T::Integer, "Members of the audience in this destination after the run."),
            C::required("planned_add", T::Integer, "Upserts of members new to the destination."),
            C::required("planned_change", T::Integer, "Upserts of members whose payload changed or whose last send failed."),
            C::required("planned_remove", T::Integer, "Deletes of members who left (only rows carelake sent before)."),
            C::required("status", T::Text, "succeeded (the change set was written), or below_minimum: the audience had fewer members than the ad destination's min_members, so nobody was added and the members sent before are removed."),
            C::required("started_at", T::Timestamp, "When the run started (UTC)."),
            C::required("finished_at", T::Timestamp, "When the change sets were written (UTC)."),
            C::required("as_of", T::Date, "As-of date of the run."),
        ],
    }
}
