//! The IANA time zone of a US address, from its state, refined by ZIP prefix where a state spans two zones.
//!
//! Outreach needs the recipient's local time (quiet hours); a state's main zone is right for most addresses,
//! and the ZIP prefixes below cover the larger areas that keep another zone.

/// State -> main IANA time zone.
const STATES: &[(&str, &str)] = &[
    ("AL", "America/Chicago"),
    ("AK", "America/Anchorage"),
    ("AZ", "America/Phoenix"),
    ("AR", "America/Chicago"),
    ("CA", "America/Los_Angeles"),
    ("CO", "America/Denver"),
    ("CT", "America/New_York"),
    ("DE", "America/New_York"),
    ("DC", "America/New_York"),
    ("FL", "America/New_York"),
    ("GA", "America/New_York"),
    ("HI", "Pacific/Honolulu"),
    ("ID", "America/Boise"),
    ("IL", "America/Chicago"),
    ("IN", "America/Indiana/Indianapolis"),
    ("IA", "America/Chicago"),
    ("KS", "America/Chicago"),
    ("KY", "America/New_York"),
    ("LA", "America/Chicago"),
    ("ME", "America/New_York"),
    ("MD", "America/New_York"),
    ("MA", "America/New_York"),
    ("MI", "America/Detroit"),
    ("MN", "America/Chicago"),
    ("MS", "America/Chicago"),
    ("MO", "America/Chicago"),
    ("MT", "America/Denver"),
    ("NE", "America/Chicago"),
    ("NV", "America/Los_Angeles"),
    ("NH", "America/New_York"),
    ("NJ", "America/New_York"),
    ("NM", "America/Denver"),
    ("NY", "America/New_York"),
    ("NC", "America/New_York"),
    ("ND", "America/Chicago"),
    ("OH", "America/New_York"),
    ("OK", "America/Chicago"),
    ("OR", "America/Los_Angeles"),
    ("PA", "America/New_York"),
    ("RI", "America/New_York"),
    ("SC", "America/New_York"),
    ("SD", "America/Chicago"),
    ("TN", "America/Chicago"),
    ("TX", "America/Chicago"),
    ("UT", "America/Denver"),
    ("VT", "America/New_York"),
    ("VA", "America/New_York"),
    ("WA", "America/Los_Angeles"),
    ("WV", "America/New_York"),
    ("WI", "America/Chicago"),
    ("WY", "America/Denver"),
    ("PR", "America/Puerto_Rico"),
    ("GU", "Pacific/Guam"),
    ("VI", "America/St_Thomas"),
    ("AS", "Pacific/Pago_Pago"),
    ("MP", "Pacific/Saipan"),
];

/// ZIP prefixes whose zone differs from their state's main zone.
const ZIP3_EXCEPTIONS: &[(&str, &str)] = &[
    ("798", "America/Denver"),
    ("799", "America/Denver"),
    ("885", "America/Denver"), // El Paso, TX
    ("324", "America/Chicago"),
    ("325", "America/Chicago"), // Florida panhandle
    ("370", "America/Chicago"),
    ("376", "America/New_York"),
    ("377", "America/New_York"),
    ("378", "America/New_York"),
    ("379", "America/New_York"), // East Tennessee
    ("404", "America/Chicago"),
    ("420", "America/Chicago"),
    ("421", "America/Chicago"),
    ("422", "America/Chicago"),
    ("423", "America/Chicago"),
    ("424", "America/Chicago"),
    ("427", "America/Chicago"), // Western Kentucky
    ("463", "America/Chicago"),
    ("464", "America/Chicago"),
    ("476", "America/Chicago"),
    ("477", "America/Chicago"), // NW and SW Indiana
    ("498", "America/Menominee"),
    ("499", "America/Menominee"), // Upper Peninsula, MI (west)
    ("677", "America/Denver"),
    ("678", "America/Denver"),
    ("679", "America/Denver"), // Western Kansas
    ("690", "America/Denver"),
    ("691", "America/Denver"),
    ("693", "America/Denver"), // Western Nebraska
    ("835", "America/Los_Angeles"),
    ("838", "America/Los_Angeles"), // Northern Idaho
    ("979", "America/Boise"),       // Eastern Oregon (Malheur)
    ("585", "America/Denver"),
    ("586", "America/Denver"),
    ("587", "America/Denver"), // SW North Dakota
    ("577", "America/Denver"), // Western South Dakota
];

/// The IANA time zone of an address, or None when the state is missing or unknown.
pub fn time_zone(state: Option<&str>, zip5: Option<&str>) -> Option<&'static str> {
    if let Some(zone) = zip5
        .and_then(|z| z.get(..3))
        .and_then(|z3| ZIP3_EXCEPTIONS.iter().find(|(p, _)| *p == z3))
    {
        return Some(zone.1);
    }
    let state = state?.trim();
    STATES
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(state))
        .map(|(_, z)| *z)
}

#[cfg(test)]
mod tests {
    use super::time_zone;

    #[test]
    fn zones_by_state_and_zip() {
        assert_eq!(time_zone(Some("ny"), Some("10001")), Some("America/New_York"));
        assert_eq!(time_zone(Some("TX"), Some("75201")), Some("America/Chicago"));
        assert_eq!(time_zone(Some("TX"), Some("79901")), Some("America/Denver"));
        assert_eq!(time_zone(Some("FL"), Some("32501")), Some("America/Chicago"));
        assert_eq!(time_zone(None, None), None);
        assert_eq!(time_zone(Some("ZZ"), None), None);
    }
}
