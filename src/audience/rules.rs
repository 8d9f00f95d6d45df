//! The outreach rules a plan can tighten in its pipeline file (`outreach_rules:`): frequency caps of its own on
//! top of the defaults, and a stricter consent basis per purpose and channel.
//!
//! Only tightening is possible: the default caps always apply, and a basis weaker than the default one (the
//! TCPA's and HIPAA's minimum, [`required_basis`]) is refused with an error naming the field, so a typo in a
//! config file can never open a channel the law keeps closed.

use std::collections::BTreeMap;

use chrono::Duration;
use serde::Deserialize;

use super::caps::{default_caps, FrequencyCap};
use super::consent::{required_basis, Basis, Channel, Purpose};
use crate::error::{CoreError, CoreResult};

/// The least consent basis per channel and purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasisTable([[Basis; 4]; 5]);

impl Default for BasisTable {
    fn default() -> Self {
        let mut table = [[Basis::None; 4]; 5];
        for c in Channel::ALL {
            for p in Purpose::ALL {
                table[c as usize][p as usize] = required_basis(c, p);
            }
        }
        BasisTable(table)
    }
}

impl BasisTable {
    /// The least basis `purpose` needs on `channel`.
    pub fn required(&self, channel: Channel, purpose: Purpose) -> Basis {
        self.0[channel as usize][purpose as usize]
    }
}

/// The rules policy applies to every member: frequency caps and the consent basis each purpose needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutreachRules {
    /// Caps, the defaults first.
    pub caps: Vec<FrequencyCap>,
    /// Least consent basis per channel and purpose.
    pub basis: BasisTable,
}

impl Default for OutreachRules {
    fn default() -> Self {
        OutreachRules {
            caps: default_caps(),
            basis: BasisTable::default(),
        }
    }
}

/// The `outreach_rules:` section of the pipeline file.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutreachRulesConfig {
    /// Caps applied on top of the defaults.
    #[serde(default)]
    pub frequency_caps: Vec<CapConfig>,
    /// purpose -> channel -> least basis (`none`, `prior_express`, `written`); only stricter than the default.
    #[serde(default)]
    pub consent_basis: BTreeMap<String, BTreeMap<String, String>>,
}

/// One configured frequency cap.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapConfig {
    /// Rule id recorded with suppressions (upper case, digits and underscores, e.g. CAP_EMAIL_2_PER_WEEK).
    pub rule: String,
    /// Most messages in the window, the new one included (0: none at all).
    pub max: u32,
    /// Rolling window in hours (168 for a week).
    pub window_hours: u32,
    /// Channels counted and capped.
    pub channels: Vec<String>,
    /// Count only messages of the same audience.
    #[serde(default)]
    pub same_subject: bool,
    /// Two-letter states the cap applies in (empty: everywhere).
    #[serde(default)]
    pub states: Vec<String>,
}

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> String {
    all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", ")
}

impl OutreachRulesConfig {
    /// Check the section and build the rules; errors name the field (`outreach_rules.frequency_caps[0].max`).
    pub fn rules(&self) -> CoreResult<OutreachRules> {
        let mut rules = OutreachRules::default();
        for (i, cap) in self.frequency_caps.iter().enumerate() {
            let field = |f: &str| format!("outreach_rules.frequency_caps[{i}].{f}");
            let err = |f: &str, why: String| Err(CoreError::Config(format!("{}: {why}", field(f))));
            let well_formed = !cap.rule.is_empty()
                && cap
                    .rule
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !well_formed {
                return err("rule", "use upper-case letters, digits and underscores".into());
            }
            if rules.caps.iter().any(|c| c.rule == cap.rule) {
                return err("rule", format!("'{}' is already a cap", cap.rule));
            }
            if cap.window_hours == 0 {
                return err("window_hours", "must be at least 1".into());
            }
            if cap.channels.is_empty() {
                return err("channels", "name at least one channel".into());
            }
            let mut channels = Vec::new();
            for c in &cap.channels {
                let Some(channel) = Channel::parse(c) else {
                    return err(
                        "channels",
                        format!(
                            "unknown channel '{c}' (known: {})",
                            names(&Channel::ALL, Channel::name)
                        ),
                    );
                };
                channels.push(channel);
            }
            let mut states = Vec::new();
            for s in &cap.states {
                let s = s.trim().to_ascii_uppercase();
                if s.len() != 2 || !s.chars().all(|c| c.is_ascii_uppercase()) {
                    return err("states", format!("'{s}' is not a two-letter state code"));
                }
                states.push(s);
            }
            rules.caps.push(FrequencyCap {
                rule: cap.rule.clone(),
                max: cap.max,
                window: Duration::hours(i64::from(cap.window_hours)),
                channels,
                same_subject: cap.same_subject,
                states,
            });
        }
        for (purpose_name, by_channel) in &self.consent_basis {
            let Some(purpose) = Purpose::parse(purpose_name) else {
                return Err(CoreError::Config(format!(
                    "outreach_rules.consent_basis.{purpose_name}: unknown purpose (known: {})",
                    names(&Purpose::ALL, Purpose::name)
                )));
            };
            for (channel_name, basis_name) in by_channel {
                let field = format!("outreach_rules.consent_basis.{purpose_name}.{channel_name}");
                let Some(channel) = Channel::parse(channel_name) else {
                    return Err(CoreError::Config(format!(
                        "{field}: unknown channel (known: {})",
                        names(&Channel::ALL, Channel::name)
                    )));
                };
                let Some(basis) = Basis::parse(Some(basis_name)) else {
                    return Err(CoreError::Config(format!(
                        "{field}: unknown basis '{basis_name}' (known: {})",
                        names(&Basis::ALL, Basis::name)
                    )));
                };
                let least = required_basis(channel, purpose);
                if basis < least {
                    return Err(CoreError::Config(format!(
                        "{field}: '{}' is weaker than the least basis the law asks for ('{}'); only stricter \
                         bases can be configured",
                        basis.name(),
                        least.name()
                    )));
                }
                rules.basis.0[channel as usize][purpose as usize] = basis;
            }
        }
        Ok(rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> CoreResult<OutreachRules> {
        serde_yaml::from_str::<OutreachRulesConfig>(yaml)
            .map_err(|e| CoreError::Config(e.to_string()))?
            .rules()
    }

    #[test]
    fn caps_add_to_the_defaults_and_bases_only_tighten() {
        let rules = parse(
            "frequency_caps:\n  - {rule: CAP_EMAIL_2_PER_WEEK, max: 2, window_hours: 168, channels: [email]}\n\
             consent_basis:\n  care_gaps: {email: prior_express, sms: written}\n",
        )
        .unwrap();
        assert_eq!(rules.caps.len(), default_caps().len() + 1);
        assert_eq!(rules.caps.last().unwrap().window, Duration::days(7));
        assert_eq!(
            rules.basis.required(Channel::Email, Purpose::CareGaps),
            Basis::PriorExpress
        );
        assert_eq!(
            rules.basis.required(Channel::Sms, Purpose::CareGaps),
            Basis::Written
        );
        assert_eq!(
            rules.basis.required(Channel::Sms, Purpose::Billing),
            Basis::PriorExpress
        );
        assert_eq!(parse("{}").unwrap(), OutreachRules::default());
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("consent_basis: {marketing: {sms: prior_express}}", "consent_basis.marketing.sms"),
            ("consent_basis: {sales: {sms: written}}", "consent_basis.sales"),
            ("consent_basis: {care_gaps: {fax: written}}", "consent_basis.care_gaps.fax"),
            ("consent_basis: {care_gaps: {sms: verbal}}", "unknown basis"),
            (
                "frequency_caps: [{rule: CAP_HEALTHCARE_1_PER_DAY, max: 1, window_hours: 1, channels: [sms]}]",
                "frequency_caps[0].rule",
            ),
            ("frequency_caps: [{rule: my cap, max: 1, window_hours: 1, channels: [sms]}]", "[0].rule"),
            ("frequency_caps: [{rule: C, max: 1, window_hours: 0, channels: [sms]}]", "window_hours"),
            ("frequency_caps: [{rule: C, max: 1, window_hours: 1, channels: [fax]}]", "unknown channel 'fax'"),
            ("frequency_caps: [{rule: C, max: 1, window_hours: 1, channels: []}]", "[0].channels"),
            (
                "frequency_caps: [{rule: C, max: 1, window_hours: 1, channels: [sms], states: [Florida]}]",
                "[0].states",
            ),
        ];
        for (yaml, expected) in cases {
            let e = parse(yaml).unwrap_err().to_string();
            assert!(e.contains(expected), "{yaml}: {e}");
        }
    }
}
