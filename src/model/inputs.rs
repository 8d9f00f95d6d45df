//! The six canonical input tables that users map their sources into (DESIGN.md, "Canonical inputs").

use super::spec::{CanonicalType as T, ColumnSpec as C, TableSpec};
use crate::error::{CoreError, CoreResult};

/// Names of the canonical input tables, in the order the pipeline reads them.
pub const CANONICAL_INPUTS: [&str; 6] = [
    "person_records",
    "enrollment",
    "clinical_events",
    "appointments",
    "consents",
    "communications",
];

const SOURCE_SYSTEM: &str = "Source system the record came from (e.g. ehr, claims, crm).";
const SOURCE_RECORD_ID: &str = "Identifier of the person record within its source system.";
const MEMBER_ID: &str =
    "carelake member id, when the source is already resolved (else null; joined via source keys).";

/// The spec of a canonical input table by name.
pub fn canonical_input(name: &str) -> Option<TableSpec> {
    Some(match name {
        "person_records" => person_records(),
        "enrollment" => enrollment(),
        "clinical_events" => clinical_events(),
        "appointments" => appointments(),
        "consents" => consents(),
        "communications" => communications(),
        _ => return None,
    })
}

/// The spec of a table the caller knows to be a canonical input (a name it holds from [`CANONICAL_INPUTS`] or
/// its own code): another name is a bug, reported as an internal error.
pub fn canonical_spec(name: &str) -> CoreResult<TableSpec> {
    canonical_input(name).ok_or_else(|| CoreError::Internal(format!("{name} is not canonical")))
}

/// One source record of a person: the input to identity resolution.
pub fn person_records() -> TableSpec {
    TableSpec {
        name: "person_records",
        comment: "Canonical input: one source record of a person (EHR, claims, CRM, ...). Identity resolution links these into members.",
        person_key: false,
        columns: vec![
            C::key("source_system", T::Text, SOURCE_SYSTEM),
            C::key("source_record_id", T::Text, SOURCE_RECORD_ID),
            C::required("first_name", T::Text, "Given name as recorded in the source."),
            C::optional("middle_name", T::Text, "Middle name or initial."),
            C::required("last_name", T::Text, "Family name as recorded in the source."),
            C::optional("suffix", T::Text, "Name suffix such as Jr, Sr, III."),
            C::required("birth_date", T::Date, "Date of birth."),
            C::optional("deceased_date", T::Date, "Date of death, if known."),
            C::optional("sex", T::Text, "Administrative sex: F, M, U (unknown) or X."),
            C::optional("ssn", T::Text, "Social Security number (PHI; masked for analysts)."),
            C::optional("member_number", T::Text, "Health plan member number."),
            C::optional("mrn", T::Text, "Medical record number within the source system."),
            C::optional("email", T::Text, "Email address as recorded."),
            C::optional("phone", T::Text, "Phone number as recorded (any format)."),
            C::optional("address_line1", T::Text, "Street address line 1."),
            C::optional("address_line2", T::Text, "Street address line 2 (unit, apartment)."),
            C::optional("city", T::Text, "City."),
            C::optional("state", T::Text, "US state, two-letter code."),
            C::optional("postal_code", T::Text, "ZIP or ZIP+4."),
            C::optional("preferred_language", T::Text, "Preferred language (ISO 639-1, e.g. en, es)."),
            C::optional("preferred_channel", T::Text, "Preferred contact channel.")
                .one_of(&["sms", "voice", "email", "mail"]),
            C::required("updated_at", T::Timestamp, "When the source last changed this record (UTC)."),
        ],
    }
}

/// One coverage span of a person.
pub fn enrollment() -> TableSpec {
    TableSpec {
        name: "enrollment",
        comment: "Canonical input: one coverage span (health plan enrollment) of a person.",
        person_key: true,
        columns: vec![
            C::optional("source_system", T::Text, SOURCE_SYSTEM),
            C::optional("source_record_id", T::Text, SOURCE_RECORD_ID),
            C::optional("member_id", T::Text, MEMBER_ID),
            C::key("start_date", T::Date, "First day of coverage."),
            C::required("end_date", T::Date, "Last day of coverage (null: open-ended)."),
            C::key("product_line", T::Text, "Product line of the coverage.").one_of(&[
                "commercial",
                "medicaid",
                "medicare",
                "marketplace",
            ]),
            C::optional("plan_id", T::Text, "Plan or benefit package identifier."),
            C::optional(
                "medical_benefit",
                T::Boolean,
                "Coverage includes the medical benefit.",
            ),
            C::optional(
                "pharmacy_benefit",
                T::Boolean,
                "Coverage includes the pharmacy benefit.",
            ),
            C::optional(
                "snp_type",
                T::Text,
                "Medicare Special Needs Plan type: I-SNP, D-SNP, C-SNP or null.",
            )
            .one_of(&["I-SNP", "D-SNP", "C-SNP"]),
            C::optional(
                "long_term_institution",
                T::Boolean,
                "Lives long-term in an institution (CMS LTI flag).",
            ),
        ],
    }
}

/// One coded clinical fact: a claim line, a lab result, an EHR entry.
pub fn clinical_events() -> TableSpec {
    TableSpec {
        name: "clinical_events",
        comment: "Canonical input: one coded clinical fact (claim line, lab result, EHR entry, supplemental record).",
        person_key: true,
        columns: vec![
            C::optional("source_system", T::Text, SOURCE_SYSTEM),
            C::optional("source_record_id", T::Text, SOURCE_RECORD_ID),
            C::optional("member_id", T::Text, MEMBER_ID),
            C::key("event_date", T::Date, "Date of service or result."),
            C::optional("end_date", T::Date, "Last date of service for spans (stays, CGM ranges)."),
            C::key("code_system", T::Text, "Code system of the code.").one_of(&[
                "CPT", "CPT-II", "HCPCS", "ICD10CM", "ICD10PCS", "LOINC", "SNOMED", "NDC", "RXNORM",
                "UBREV", "POS",
            ]),
            C::key("code", T::Text, "The code, as recorded (dots optional for ICD-10)."),
            C::optional("modifier", T::Text, "Procedure modifier (e.g. 50, LT, RT)."),
            C::optional("value_num", T::Float, "Numeric result value, for labs and vitals."),
            C::optional("value_unit", T::Text, "Unit of value_num."),
            C::optional("provider_taxonomy", T::Text, "NUCC taxonomy of the rendering provider."),
            C::optional("setting", T::Text, "Care setting (outpatient, inpatient, ed, telehealth, home, ...)."),
            C::optional("days_supply", T::Integer, "Days supplied, for pharmacy fills."),
            C::optional("claim_id", T::Text, "Claim identifier, for claim lines."),
            C::optional("data_source", T::Text, "Kind of source: claim, lab, ehr or supplemental.")
                .one_of(&["claim", "lab", "ehr", "supplemental"]),
        ],
    }
}

/// One appointment.
pub fn appointments() -> TableSpec {
    TableSpec {
        name: "appointments",
        comment: "Canonical input: one appointment of a person with a provider.",
        person_key: true,
        columns: vec![
            C::key("appointment_id", T::Text, "Appointment identifier."),
            C::optional("source_system", T::Text, SOURCE_SYSTEM),
            C::optional("source_record_id", T::Text, SOURCE_RECORD_ID),
            C::optional("member_id", T::Text, MEMBER_ID),
            C::key("start_at", T::Timestamp, "Start of the appointment (UTC)."),
            C::required("status", T::Text, "Appointment status.").one_of(&[
                "booked",
                "confirmed",
                "arrived",
                "completed",
                "cancelled",
                "no_show",
            ]),
            C::optional(
                "appointment_type",
                T::Text,
                "Kind of visit (annual_wellness, follow_up, screening, ...).",
            ),
            C::optional("provider", T::Text, "Provider name or identifier."),
            C::optional("location", T::Text, "Location (clinic) name or identifier."),
        ],
    }
}

/// One consent or revocation.
pub fn consents() -> TableSpec {
    TableSpec {
        name: "consents",
        comment: "Canonical input: one consent or revocation for a channel and purpose. The latest per contact point wins.",
        person_key: true,
        columns: vec![
            C::optional("source_system", T::Text, SOURCE_SYSTEM),
            C::optional("source_record_id", T::Text, SOURCE_RECORD_ID),
            C::optional("member_id", T::Text, MEMBER_ID),
            C::key(
                "channel",
                T::Text,
                "Channel the consent covers; all: every channel (an opt-out of all channels for all purposes is a do-not-contact request).",
            )
            .one_of(&["sms", "voice", "email", "mail", "ads", "all"]),
            C::key("purpose", T::Text, "Purpose the consent covers.")
                .one_of(&["care_reminders", "care_gaps", "marketing", "billing", "all"]),
            C::key("status", T::Text, "opt_in or opt_out.").one_of(&["opt_in", "opt_out"]),
            C::optional("basis", T::Text, "Consent basis (TCPA): prior_express, written or none.")
                .one_of(&["prior_express", "written", "none"]),
            C::optional(
                "contact_point",
                T::Text,
                "The phone number or email the consent is for: an opt-in naming one covers texts, calls or email only while it is the member's current one.",
            ),
            C::key("captured_at", T::Timestamp, "When the consent or revocation was captured (UTC)."),
            C::optional("source", T::Text, "Where it was captured (portal, front_desk, sms_reply, ...)."),
        ],
    }
}

/// One message sent or received.
pub fn communications() -> TableSpec {
    TableSpec {
        name: "communications",
        comment: "Canonical input: one message sent to or received from a person (outreach history, replies such as STOP).",
        person_key: true,
        columns: vec![
            C::key("message_id", T::Text, "Message identifier."),
            C::optional("source_system", T::Text, SOURCE_SYSTEM),
            C::optional("source_record_id", T::Text, SOURCE_RECORD_ID),
            C::optional("member_id", T::Text, MEMBER_ID),
            C::key("channel", T::Text, "Channel of the message.")
                .one_of(&["sms", "voice", "email", "mail", "ads"]),
            C::key("direction", T::Text, "outbound or inbound.").one_of(&["outbound", "inbound"]),
            C::optional("audience", T::Text, "Audience the message was sent for."),
            C::optional("template", T::Text, "Message template."),
            C::key("sent_at", T::Timestamp, "When it was sent or received (UTC)."),
            C::required("status", T::Text, "Delivery status.").one_of(&[
                "queued", "delivered", "failed", "replied", "opted_out",
            ]),
            C::optional("body_keyword", T::Text, "First keyword of an inbound reply (STOP, HELP, YES, ...)."),
        ],
    }
}
