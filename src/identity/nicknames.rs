//! English given-name nicknames (Bill/William, Peggy/Margaret, ...).
//!
//! Used by the synthetic generator to write nicknames into source records, and by identity resolution to treat
//! a nickname and its formal name as a match. Names are compared case-insensitively.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Formal given names and the nicknames commonly recorded in their place.
pub const NICKNAMES: &[(&str, &[&str])] = &[
    ("William", &["Bill", "Billy", "Will", "Willie", "Liam"]),
    ("Robert", &["Bob", "Bobby", "Rob", "Robbie", "Bert"]),
    ("Richard", &["Rick", "Dick", "Rich", "Ricky"]),
    ("James", &["Jim", "Jimmy", "Jamie"]),
    ("John", &["Jack", "Johnny", "Jon"]),
    ("Michael", &["Mike", "Mikey", "Mick"]),
    ("Joseph", &["Joe", "Joey"]),
    ("Thomas", &["Tom", "Tommy"]),
    ("Charles", &["Charlie", "Chuck", "Chas"]),
    ("Christopher", &["Chris", "Kit"]),
    ("Daniel", &["Dan", "Danny"]),
    ("Matthew", &["Matt"]),
    ("Anthony", &["Tony"]),
    ("Donald", &["Don", "Donnie"]),
    ("Steven", &["Steve"]),
    ("Stephen", &["Steve"]),
    ("Andrew", &["Andy", "Drew"]),
    ("Joshua", &["Josh"]),
    ("Kenneth", &["Ken", "Kenny"]),
    ("Timothy", &["Tim", "Timmy"]),
    ("Ronald", &["Ron", "Ronnie"]),
    ("Edward", &["Ed", "Eddie", "Ted", "Ned"]),
    ("Jeffrey", &["Jeff"]),
    ("Nicholas", &["Nick", "Nicky"]),
    ("Jonathan", &["Jon", "Jonny"]),
    ("Gregory", &["Greg"]),
    ("Alexander", &["Alex", "Al", "Sandy"]),
    ("Benjamin", &["Ben", "Benny"]),
    ("Samuel", &["Sam", "Sammy"]),
    ("Patrick", &["Pat", "Paddy"]),
    ("Raymond", &["Ray"]),
    ("Lawrence", &["Larry"]),
    ("Gerald", &["Jerry"]),
    ("Harold", &["Hal", "Harry"]),
    ("Henry", &["Hank", "Harry"]),
    ("Walter", &["Walt"]),
    ("Peter", &["Pete"]),
    ("Frederick", &["Fred", "Freddie"]),
    ("Zachary", &["Zach", "Zack"]),
    ("Nathan", &["Nate"]),
    ("Vincent", &["Vince", "Vinny"]),
    ("Eugene", &["Gene"]),
    ("Philip", &["Phil"]),
    ("Louis", &["Lou"]),
    ("Albert", &["Al", "Bert"]),
    ("Arthur", &["Art"]),
    ("Douglas", &["Doug"]),
    ("Russell", &["Russ"]),
    ("Jose", &["Pepe"]),
    ("Margaret", &["Peggy", "Maggie", "Meg", "Marge", "Margie"]),
    ("Elizabeth", &["Liz", "Beth", "Betty", "Betsy", "Eliza", "Lizzie"]),
    ("Patricia", &["Pat", "Patty", "Trish", "Tricia"]),
    ("Jennifer", &["Jen", "Jenny"]),
    ("Barbara", &["Barb", "Barbie"]),
    ("Susan", &["Sue", "Susie"]),
    ("Jessica", &["Jess", "Jessie"]),
    ("Deborah", &["Deb", "Debbie"]),
    ("Debra", &["Deb", "Debbie"]),
    ("Kimberly", &["Kim"]),
    ("Rebecca", &["Becky", "Becca"]),
    ("Katherine", &["Kate", "Katie", "Kathy", "Kat"]),
    ("Catherine", &["Cathy", "Cate", "Katie"]),
    ("Kathleen", &["Kathy", "Kate"]),
    ("Christine", &["Chris", "Chrissy", "Tina"]),
    ("Christina", &["Chris", "Tina"]),
    ("Samantha", &["Sam", "Sammy"]),
    ("Stephanie", &["Steph"]),
    ("Victoria", &["Vicky", "Tori"]),
    ("Pamela", &["Pam"]),
    ("Cynthia", &["Cindy"]),
    ("Dorothy", &["Dot", "Dottie"]),
    ("Judith", &["Judy"]),
    ("Theresa", &["Terry", "Tess"]),
    ("Teresa", &["Terry", "Tess"]),
    ("Virginia", &["Ginny"]),
    ("Frances", &["Fran", "Frankie"]),
    ("Abigail", &["Abby"]),
    ("Amanda", &["Mandy"]),
    ("Melissa", &["Missy", "Mel"]),
    ("Jacqueline", &["Jackie"]),
    ("Alexandra", &["Alex", "Sandra"]),
    ("Sandra", &["Sandy"]),
    ("Madison", &["Maddie"]),
    ("Natalie", &["Nat"]),
    ("Isabella", &["Bella", "Izzy"]),
    ("Gloria", &["Glo"]),
    ("Carolyn", &["Carol", "Carrie"]),
    ("Caroline", &["Carrie"]),
    ("Beverly", &["Bev"]),
    ("Janet", &["Jan"]),
    ("Mary", &["Molly", "Polly", "Mae"]),
    ("Ann", &["Annie", "Nan"]),
    ("Anna", &["Annie"]),
];

/// The nicknames of a formal given name (empty if none are known).
pub fn nicknames_of(formal: &str) -> &'static [&'static str] {
    NICKNAMES
        .iter()
        .find(|(f, _)| f.eq_ignore_ascii_case(formal))
        .map(|(_, n)| *n)
        .unwrap_or(&[])
}

/// Upper-case nickname -> upper-case formal names, built once.
fn formal_by_nickname() -> &'static HashMap<String, Vec<&'static str>> {
    static MAP: OnceLock<HashMap<String, Vec<&'static str>>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map: HashMap<String, Vec<&'static str>> = HashMap::new();
        for (formal, nicks) in NICKNAMES {
            for n in *nicks {
                map.entry(n.to_ascii_uppercase()).or_default().push(formal);
            }
        }
        map
    })
}

/// The formal names a nickname may stand for (a nickname can have several, e.g. Pat: Patrick, Patricia).
pub fn formal_names_of(nickname: &str) -> Vec<&'static str> {
    formal_by_nickname()
        .get(&nickname.to_ascii_uppercase())
        .cloned()
        .unwrap_or_default()
}

/// True when two given names are the same or one is a known nickname of the other (or both of one formal name).
pub fn are_name_variants(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let map = formal_by_nickname();
    // Normalized names are upper case already: look them up as they are, upper-casing only when needed.
    fn upper(s: &str) -> std::borrow::Cow<'_, str> {
        if s.bytes().any(|c| c.is_ascii_lowercase()) {
            s.to_ascii_uppercase().into()
        } else {
            s.into()
        }
    }
    let (fa, fb) = (map.get(upper(a).as_ref()), map.get(upper(b).as_ref()));
    if fa.is_none() && fb.is_none() {
        return false; // neither is a nickname: only equality could make them variants
    }
    let names_a = std::iter::once(a).chain(fa.into_iter().flatten().copied());
    let names_b = || std::iter::once(b).chain(fb.into_iter().flatten().copied());
    names_a
        .into_iter()
        .any(|x| names_b().any(|y| x.eq_ignore_ascii_case(y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nickname_lookups() {
        assert!(nicknames_of("william").contains(&"Bill"));
        assert_eq!(formal_names_of("Peggy"), vec!["Margaret"]);
        assert!(formal_names_of("Pat").contains(&"Patrick"));
        assert!(formal_names_of("Pat").contains(&"Patricia"));
        assert!(are_name_variants("Bill", "WILLIAM"));
        assert!(are_name_variants("Katie", "Kate"));
        assert!(!are_name_variants("Bill", "Robert"));
    }
}
