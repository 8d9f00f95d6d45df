//! Value sets: loading the user's NCQA Value Set Directory (and Medication List Directory) from xlsx or csv.
//!
//! NCQA licenses the value sets, so carelake ships none: users point at their own VSD workbook or a csv export,
//! and `sample` selects a small file of public codes laid out like the VSD. Sheets and columns are found by their
//! headers, not their names or positions (NCQA renamed sheets over the years; exports reorder columns). Value sets
//! are referred to by name, as the VSD names them; the same name may come from several files (VSD + MLD).

use std::collections::{BTreeSet, HashMap};
use std::io::Cursor;

use object_store::ObjectStoreExt;

use super::codes::{code_system_key, normalize_code};
use crate::error::{CoreError, CoreResult};
use crate::lake::{block_on, Location};

/// The sample value-set file shipped with carelake: public example codes only, in the VSD's layout.
pub const SAMPLE_VALUE_SETS: &str = include_str!("sample_value_sets.csv");

/// One file a directory was loaded from (recorded in the run log).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ValueSetFile {
    /// Where it came from (redacted URI, or `sample`).
    pub origin: String,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// Code rows read.
    pub rows: usize,
    /// Distinct `Value Set Version` values in the file.
    pub versions: BTreeSet<String>,
}

/// One value set (or medication list).
#[derive(Debug, Clone)]
pub struct ValueSet {
    /// Name as the VSD writes it.
    pub name: String,
    /// OID, when the file has one.
    pub oid: Option<String>,
    /// Version, when the file has one.
    pub version: Option<String>,
    /// Index of the file it came from.
    pub file: usize,
}

/// One code of a value set.
#[derive(Debug, Clone)]
pub struct ValueSetCode {
    /// Index of the value set.
    pub value_set: usize,
    /// Canonical code system (see [`code_system_key`]).
    pub system: String,
    /// The code as the file writes it (shown as evidence).
    pub code: String,
    /// The normalized code (matched against events).
    pub normalized: String,
}

/// Value sets and their codes, from one or more files.
#[derive(Debug, Clone, Default)]
pub struct ValueSetDirectory {
    /// Files loaded, in order.
    pub files: Vec<ValueSetFile>,
    /// Value sets, in order of first appearance.
    pub sets: Vec<ValueSet>,
    /// Codes of all value sets.
    pub codes: Vec<ValueSetCode>,
    by_name: HashMap<String, usize>,
}

/// Which column holds what, found by header.
struct Columns {
    name: usize,
    oid: Option<usize>,
    version: Option<usize>,
    code: usize,
    system: usize,
}

/// The key a value-set name is looked up by: case and spacing do not matter.
fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn header_key(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Columns {
    /// Find the columns in a header row; Err lists what is missing (by the VSD's header names).
    fn find(headers: &[String]) -> Result<Self, Vec<&'static str>> {
        let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
        let find = |names: &[&str]| keys.iter().position(|k| names.contains(&k.as_str()));
        let name = find(&["valuesetname", "medicationlistname", "valueset"]);
        let code = find(&["code"]);
        let system = find(&["codesystem"]);
        let mut missing = Vec::new();
        if name.is_none() {
            missing.push("Value Set Name (or Medication List Name)");
        }
        if code.is_none() {
            missing.push("Code");
        }
        if system.is_none() {
            missing.push("Code System");
        }
        match (name, code, system) {
            (Some(name), Some(code), Some(system)) => Ok(Columns {
                name,
                oid: find(&["valuesetoid", "medicationlistoid", "oid"]),
                version: find(&["valuesetversion", "medicationlistversion", "version"]),
                code,
                system,
            }),
            _ => Err(missing),
        }
    }
}

impl ValueSetDirectory {
    /// The shipped sample (public codes only).
    pub fn sample() -> CoreResult<Self> {
        let mut dir = ValueSetDirectory::default();
        dir.add_csv("sample", SAMPLE_VALUE_SETS.as_bytes())?;
        Ok(dir)
    }

    /// Load value sets from files (local paths or object-store URIs; `.xlsx`/`.xlsm` workbooks or `.csv`
    /// exports); the word `sample` selects the shipped sample.
    pub fn load(sources: &[String]) -> CoreResult<Self> {
        if sources.is_empty() {
            return Err(CoreError::Config(
                "no value-set file given: pass your NCQA Value Set Directory (xlsx or csv), or 'sample'"
                    .into(),
            ));
        }
        let mut dir = ValueSetDirectory::default();
        for source in sources {
            if source == "sample" {
                dir.add_csv("sample", SAMPLE_VALUE_SETS.as_bytes())?;
                continue;
            }
            let location = Location::parse(source)?;
            let bytes = read_bytes(&location)?;
            let origin = location.redacted();
            let lower = source.to_lowercase();
            if lower.ends_with(".xlsx") || lower.ends_with(".xlsm") {
                dir.add_workbook(&origin, bytes)?;
            } else if lower.ends_with(".csv") || lower.ends_with(".txt") {
                dir.add_csv(&origin, &bytes)?;
            } else {
                return Err(CoreError::Config(format!(
                    "value-set file {origin}: unknown kind; expected .xlsx, .xlsm or .csv"
                )));
            }
        }
        Ok(dir)
    }

    /// The index of a value set by name (case and spacing ignored).
    pub fn find(&self, name: &str) -> Option<usize> {
        self.by_name.get(&name_key(name)).copied()
    }

    /// Add the codes of a csv export (header row first).
    pub fn add_csv(&mut self, origin: &str, bytes: &[u8]) -> CoreResult<()> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(strip_bom(bytes));
        let mut rows = Vec::new();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| {
                CoreError::Input(format!(
                    "value-set file {origin}: line {} is not valid csv: {e}",
                    i + 1
                ))
            })?;
            rows.push(record.iter().map(str::to_string).collect::<Vec<_>>());
        }
        let Some(header) = rows.first() else {
            return Err(CoreError::Input(format!("value-set file {origin} is empty")));
        };
        let columns = Columns::find(header).map_err(|missing| {
            CoreError::Input(format!(
                "value-set file {origin}: missing column(s) {}",
                missing.join(", ")
            ))
        })?;
        let file = self.add_file(origin, bytes);
        self.add_rows(file, &columns, rows.iter().skip(1).map(|r| (r.as_slice(), false)))
    }

    /// Add the codes of every sheet of a workbook whose header row has the value-set columns.
    pub fn add_workbook(&mut self, origin: &str, bytes: Vec<u8>) -> CoreResult<()> {
        use calamine::Reader;
        let digest = crate::digest::sha256_of(&bytes);
        let mut workbook = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| {
            CoreError::Input(format!("value-set file {origin} is not a readable workbook: {e}"))
        })?;
        let mut file = None;
        let mut sheets_seen = Vec::new();
        for sheet in workbook.sheet_names() {
            let range = workbook.worksheet_range(&sheet).map_err(|e| {
                CoreError::Input(format!(
                    "value-set file {origin}: sheet '{sheet}' cannot be read: {e}"
                ))
            })?;
            let rows: Vec<Vec<(String, bool)>> =
                range.rows().map(|r| r.iter().map(cell_text).collect()).collect();
            // The header is within the first rows (some exports put a title above it).
            let found = rows.iter().take(20).enumerate().find_map(|(i, r)| {
                let headers: Vec<String> = r.iter().map(|(t, _)| t.clone()).collect();
                Columns::find(&headers).ok().map(|c| (i, c))
            });
            let Some((header_row, columns)) = found else {
                sheets_seen.push(sheet);
                continue;
            };
            let index = *file.get_or_insert_with(|| {
                self.files.push(ValueSetFile {
                    origin: origin.to_string(),
                    sha256: digest.clone(),
                    rows: 0,
                    versions: BTreeSet::new(),
                });
                self.files.len() - 1
            });
            let texts: Vec<(Vec<String>, bool)> = rows[header_row + 1..]
                .iter()
                .map(|r| {
                    let numeric_code = r.get(columns.code).is_some_and(|(_, n)| *n);
                    (r.iter().map(|(t, _)| t.clone()).collect(), numeric_code)
                })
                .collect();
            self.add_rows(index, &columns, texts.iter().map(|(r, n)| (r.as_slice(), *n)))?;
        }
        if file.is_none() {
            return Err(CoreError::Input(format!(
                "value-set file {origin}: no sheet has the columns Value Set Name (or Medication List Name), Code and \
                 Code System (sheets: {})",
                sheets_seen.join(", ")
            )));
        }
        Ok(())
    }

    fn add_file(&mut self, origin: &str, bytes: &[u8]) -> usize {
        self.files.push(ValueSetFile {
            origin: origin.to_string(),
            sha256: crate::digest::sha256_of(bytes),
            rows: 0,
            versions: BTreeSet::new(),
        });
        self.files.len() - 1
    }

    /// Add code rows; `numeric` marks a code read from a numeric spreadsheet cell (leading zeros lost).
    fn add_rows<'r>(
        &mut self,
        file: usize,
        columns: &Columns,
        rows: impl Iterator<Item = (&'r [String], bool)>,
    ) -> CoreResult<()> {
        let origin = self.files[file].origin.clone();
        for (line, (row, numeric)) in rows.enumerate() {
            let cell = |i: usize| row.get(i).map(|s| s.trim()).unwrap_or("");
            let (name, code, system) = (cell(columns.name), cell(columns.code), cell(columns.system));
            if name.is_empty() && code.is_empty() {
                continue; // blank line
            }
            if name.is_empty() || code.is_empty() || system.is_empty() {
                return Err(CoreError::Input(format!(
                    "value-set file {origin}: data row {} has an empty Value Set Name, Code or Code System",
                    line + 1
                )));
            }
            let system = code_system_key(system);
            let mut normalized = normalize_code(&system, code).unwrap_or_default();
            if numeric && system == "NDC" && normalized.len() < 11 {
                normalized = format!("{normalized:0>11}");
            }
            let version = columns.version.map(cell).filter(|v| !v.is_empty());
            let key = name_key(name);
            let set = match self.by_name.get(&key) {
                Some(&i) => i,
                None => {
                    self.sets.push(ValueSet {
                        name: name.to_string(),
                        oid: columns
                            .oid
                            .map(cell)
                            .filter(|v| !v.is_empty())
                            .map(str::to_string),
                        version: version.map(str::to_string),
                        file,
                    });
                    self.by_name.insert(key, self.sets.len() - 1);
                    self.sets.len() - 1
                }
            };
            if let Some(v) = version {
                if !self.files[file].versions.contains(v) {
                    self.files[file].versions.insert(v.to_string());
                }
            }
            self.files[file].rows += 1;
            self.codes.push(ValueSetCode {
                value_set: set,
                system,
                code: code.to_string(),
                normalized,
            });
        }
        Ok(())
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

/// A cell as text, and whether it was numeric (codes like 77067 are often stored as numbers).
fn cell_text(cell: &calamine::Data) -> (String, bool) {
    use calamine::Data;
    match cell {
        Data::String(s) => (s.clone(), false),
        Data::Int(i) => (i.to_string(), true),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => (format!("{}", *f as i64), true),
        Data::Float(f) => (f.to_string(), true),
        Data::Bool(b) => (b.to_string(), false),
        Data::Empty => (String::new(), false),
        other => (other.to_string(), false),
    }
}

fn read_bytes(location: &Location) -> CoreResult<Vec<u8>> {
    if let Some(path) = location.local_path() {
        return std::fs::read(&path).map_err(|e| {
            CoreError::Input(format!("cannot read value-set file {}: {e}", location.redacted()))
        });
    }
    let (store, path) = location.object_store()?;
    block_on(async {
        let got = store.get(&path).await.map_err(|e| {
            CoreError::Input(format!("cannot read value-set file {}: {e}", location.redacted()))
        })?;
        let bytes = got
            .bytes()
            .await
            .map_err(|e| CoreError::storage(format!("reading value-set file {}", location.redacted()), e))?;
        Ok(bytes.to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_loads_with_vsd_names() {
        let dir = ValueSetDirectory::sample().unwrap();
        assert!(dir.find("Mammography").is_some());
        assert!(dir.find("  mammography ").is_some());
        assert!(dir.codes.len() > 100);
        assert_eq!(dir.files[0].origin, "sample");
    }

    #[test]
    fn sample_covers_every_code_the_reference_lists() {
        // The public example codes of shared/reference/hedis-measures.md, sections 1-9.
        let listed = "Z51.5 G9473 G9479 Q5003 Q5010 S9126 T2042 T2046 0115 0125 0135 0145 0155 0235 0650 0659 \
            77061 77062 77063 77065 77066 77067 Z90.13 Z90.11 Z90.12 0HTV0ZZ 19303 19307 19318 F64.0 \
            45378 45398 G0105 G0121 45330 45350 G0104 74261 74263 82270 82274 G0328 81528 C18.0 C18.9 C19 C20 \
            C21.2 C21.8 C78.5 Z85.038 Z85.048 44150 44158 44210 44212 88142 88175 G0123 G0124 G0141 G0143 \
            G0144 G0145 G0146 G0147 G0148 P3000 P3001 Q0091 87624 87625 G0476 Z90.710 Z90.712 Q51.5 4548-4 \
            4549-2 17856-6 97506-0 3044F 3051F 3052F 3046F 83036 83037 E10.9 E11.9 E13.9 3074F 3075F 3077F \
            3078F 3079F 3080F 8480-6 8462-4 85354-9 I10 2022F 2023F 2024F 2025F 2026F 2033F 3072F 92002 92004 \
            92012 92014 92250 92229 48642-3 48643-1 62238-1 98979-8 9318-7 14959-1 14957-5 82043 2161-8 82570 \
            N18.6 Z99.2";
        let dir = ValueSetDirectory::sample().unwrap();
        for code in listed.split_whitespace() {
            assert!(
                dir.codes.iter().any(|c| c.code == code),
                "{code} is not in the sample"
            );
        }
    }

    #[test]
    fn csv_columns_by_header_in_any_order() {
        let text = "Code System,Code,Value Set Name,Value Set Version\nICD-10-CM,E11.9,Diabetes,2026\n";
        let mut dir = ValueSetDirectory::default();
        dir.add_csv("t.csv", text.as_bytes()).unwrap();
        assert_eq!(dir.codes[0].normalized, "E119");
        assert_eq!(dir.codes[0].system, "ICD10CM");
        assert!(dir.files[0].versions.contains("2026"));
    }

    #[test]
    fn missing_columns_are_named() {
        let mut dir = ValueSetDirectory::default();
        let err = dir
            .add_csv("vsd.csv", b"Value Set Name,Code\nX,1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("vsd.csv") && err.contains("Code System"), "{err}");
    }
}
