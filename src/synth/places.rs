//! Streets, places (city, state, ZIP prefix, UTC offset), email domains and area codes for synthetic contacts.
//!
//! The places include the states with stricter outreach rules (FL, OK, MD, WA) and several time zones, so
//! quiet-hour logic meets real variety.

/// Street names.
pub const STREETS: &[&str] = &[
    "Main",
    "Oak",
    "Maple",
    "Park",
    "Washington",
    "Lake",
    "Hill",
    "Pine",
    "Cedar",
    "Elm",
    "Walnut",
    "Sunset",
    "Lincoln",
    "Jackson",
    "Church",
    "River",
    "Highland",
    "Willow",
    "Meadow",
    "Forest",
    "Jefferson",
    "Madison",
    "Franklin",
    "Spring",
    "Ridge",
    "Valley",
    "Center",
    "Mill",
    "Chestnut",
    "Martin Luther King Jr",
    "Broadway",
    "Adams",
    "Cherry",
    "Dogwood",
    "Magnolia",
    "Hickory",
    "Birch",
    "Sycamore",
    "Laurel",
    "Prospect",
    "Green",
    "Union",
    "Grand",
    "Liberty",
    "Mountain View",
];

/// Street types: the full word, and the USPS abbreviation.
pub const STREET_TYPES: &[(&str, &str)] = &[
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Drive", "Dr"),
    ("Lane", "Ln"),
    ("Boulevard", "Blvd"),
    ("Court", "Ct"),
    ("Place", "Pl"),
    ("Circle", "Cir"),
    ("Way", "Way"),
];

/// A place: city, state, first three ZIP digits, and the state's main UTC offset in winter (hours).
#[derive(Debug, Clone, Copy)]
pub struct Place {
    /// City name.
    pub city: &'static str,
    /// Two-letter state code.
    pub state: &'static str,
    /// ZIP prefix (three digits).
    pub zip3: &'static str,
    /// Standard-time UTC offset in hours, used to put appointment times in local business hours.
    pub utc_offset: i32,
    /// Relative population weight.
    pub weight: f64,
}

const fn place(
    city: &'static str,
    state: &'static str,
    zip3: &'static str,
    utc_offset: i32,
    weight: f64,
) -> Place {
    Place {
        city,
        state,
        zip3,
        utc_offset,
        weight,
    }
}

/// Places, weighted roughly by population; includes the states with stricter outreach rules (FL, OK, MD, WA).
pub const PLACES: &[Place] = &[
    place("New York", "NY", "100", -5, 8.0),
    place("Brooklyn", "NY", "112", -5, 5.0),
    place("Buffalo", "NY", "142", -5, 1.5),
    place("Los Angeles", "CA", "900", -8, 8.0),
    place("San Diego", "CA", "921", -8, 3.0),
    place("San Jose", "CA", "951", -8, 2.5),
    place("Sacramento", "CA", "958", -8, 1.5),
    place("Chicago", "IL", "606", -6, 6.0),
    place("Springfield", "IL", "627", -6, 0.8),
    place("Houston", "TX", "770", -6, 6.0),
    place("Dallas", "TX", "752", -6, 4.0),
    place("San Antonio", "TX", "782", -6, 3.5),
    place("Austin", "TX", "787", -6, 2.5),
    place("El Paso", "TX", "799", -7, 1.5),
    place("Phoenix", "AZ", "850", -7, 4.0),
    place("Tucson", "AZ", "857", -7, 1.5),
    place("Philadelphia", "PA", "191", -5, 4.0),
    place("Pittsburgh", "PA", "152", -5, 1.5),
    place("Miami", "FL", "331", -5, 3.5),
    place("Orlando", "FL", "328", -5, 2.5),
    place("Tampa", "FL", "336", -5, 2.5),
    place("Jacksonville", "FL", "322", -5, 2.0),
    place("Pensacola", "FL", "325", -6, 0.6),
    place("Oklahoma City", "OK", "731", -6, 1.5),
    place("Tulsa", "OK", "741", -6, 1.0),
    place("Baltimore", "MD", "212", -5, 2.0),
    place("Silver Spring", "MD", "209", -5, 1.0),
    place("Seattle", "WA", "981", -8, 2.5),
    place("Spokane", "WA", "992", -8, 0.8),
    place("Columbus", "OH", "432", -5, 2.0),
    place("Cleveland", "OH", "441", -5, 1.5),
    place("Detroit", "MI", "482", -5, 2.0),
    place("Grand Rapids", "MI", "495", -5, 1.0),
    place("Atlanta", "GA", "303", -5, 3.0),
    place("Charlotte", "NC", "282", -5, 2.0),
    place("Raleigh", "NC", "276", -5, 1.5),
    place("Nashville", "TN", "372", -6, 1.5),
    place("Memphis", "TN", "381", -6, 1.2),
    place("Denver", "CO", "802", -7, 2.0),
    place("Boston", "MA", "021", -5, 2.5),
    place("Worcester", "MA", "016", -5, 0.8),
    place("Newark", "NJ", "071", -5, 1.5),
    place("Jersey City", "NJ", "073", -5, 1.0),
    place("Minneapolis", "MN", "554", -6, 1.5),
    place("Milwaukee", "WI", "532", -6, 1.2),
    place("Indianapolis", "IN", "462", -5, 1.8),
    place("Louisville", "KY", "402", -5, 1.0),
    place("New Orleans", "LA", "701", -6, 1.0),
    place("Las Vegas", "NV", "891", -8, 1.5),
    place("Portland", "OR", "972", -8, 1.5),
    place("Salt Lake City", "UT", "841", -7, 1.0),
    place("Albuquerque", "NM", "871", -7, 1.0),
    place("Kansas City", "MO", "641", -6, 1.2),
    place("St. Louis", "MO", "631", -6, 1.2),
    place("Omaha", "NE", "681", -6, 0.8),
    place("Birmingham", "AL", "352", -6, 1.0),
    place("Little Rock", "AR", "722", -6, 0.7),
    place("Des Moines", "IA", "503", -6, 0.7),
    place("Honolulu", "HI", "968", -10, 0.8),
    place("Anchorage", "AK", "995", -9, 0.4),
    place("Boise", "ID", "837", -7, 0.5),
    place("Hartford", "CT", "061", -5, 0.8),
    place("Providence", "RI", "029", -5, 0.6),
    place("Richmond", "VA", "232", -5, 1.2),
    place("Charleston", "SC", "294", -5, 0.8),
    place("Jackson", "MS", "392", -6, 0.6),
];

/// Email domains with their shares.
pub const EMAIL_DOMAINS: &[(&str, f64)] = &[
    ("gmail.com", 45.0),
    ("yahoo.com", 15.0),
    ("hotmail.com", 8.0),
    ("outlook.com", 7.0),
    ("aol.com", 5.0),
    ("icloud.com", 8.0),
    ("comcast.net", 3.0),
    ("att.net", 2.0),
    ("example.org", 4.0),
    ("protonmail.com", 1.0),
    ("msn.com", 2.0),
];

/// US area codes to draw phone numbers from (any plausible NPA; the exchange is chosen at random).
pub const AREA_CODES: &[&str] = &[
    "212", "718", "917", "310", "213", "619", "408", "916", "312", "773", "217", "713", "214", "210", "512",
    "915", "602", "520", "215", "412", "305", "407", "813", "904", "850", "405", "918", "410", "301", "206",
    "509", "614", "216", "313", "616", "404", "704", "919", "615", "901", "303", "617", "508", "973", "201",
    "612", "414", "317", "502", "504", "702", "503", "801", "505", "816", "314", "402", "205", "501", "515",
    "808", "907", "208", "860", "401", "804", "843", "601",
];
