//! Audiences and reverse ETL: who hears what, when and how, within consent and the law.
//!
//! This module holds the policy engine, pure functions over small typed values so they can be tested alone and
//! run per member in parallel:
//! - [`consent`]: the consent ledger (latest decision per member, channel and purpose; STOP-style replies revoke)
//!   and the consent basis each purpose needs; [`contact_points`]: whether an opt-in's contact point is the
//!   member's current phone or email;
//! - [`quiet_hours`]: allowed local hours (federal 8am-9pm, stricter states 8am-8pm) and the next send window in
//!   the recipient's time zone and in UTC;
//! - [`caps`]: frequency caps (the healthcare exemption's one a day and three a week, the states' three per
//!   24 hours on one subject);
//! - [`channel`]: the channel chosen by preference, reachability and consent, with fallback, and the rule that
//!   left a member out when none remains;
//! - [`rules`]: the caps and consent bases a pipeline file adds (only ever stricter than the defaults);
//! - [`destinations`]: per-destination field allowlists (minimum necessary), hashed identifiers and neutral
//!   audience names for ad platforms.
//!
//! [`definition`] checks the audiences and destinations of the pipeline file; [`policy`] combines the rules into
//! one decision per member (send on a channel in a window, or suppress with the rule that did it).
//!
//! The defaults follow `shared/reference/outreach-compliance.md`; every rule has an id that suppressions record.

pub mod caps;
pub mod channel;
pub mod consent;
pub mod contact_points;
pub mod definition;
pub mod destinations;
pub mod ledger;
pub mod policy;
pub mod quiet_hours;
pub mod rules;

#[cfg(test)]
mod properties;
