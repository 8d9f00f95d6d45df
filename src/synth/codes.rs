//! Public codes the synthetic generator plants, grouped by the concept (value-set name) they stand for.
//!
//! Procedure and diagnosis codes are the public example codes of `shared/reference/hedis-measures.md`. The NDC
//! codes are illustrative 11-digit codes for the drugs named (statins, metformin, insulin, dementia drugs); they
//! are synthetic-data codes, not a medication list.

/// Screening mammography (CPT).
pub const MAMMOGRAPHY: &[&str] = &["77067", "77063", "77065", "77066"];
/// Breast MRI: does not count for BCS-E.
pub const BREAST_MRI: &str = "77049";
/// Unilateral mastectomy (CPT, with modifier LT or RT).
pub const UNILATERAL_MASTECTOMY: &str = "19303";
/// History of bilateral mastectomy (ICD-10-CM).
pub const HISTORY_BILATERAL_MASTECTOMY: &str = "Z90.13";
/// Bilateral mastectomy (ICD-10-PCS).
pub const BILATERAL_MASTECTOMY_PCS: &str = "0HTV0ZZ";
/// Colonoscopy (CPT).
pub const COLONOSCOPY: &[&str] = &["45378", "45380", "45385"];
/// Colonoscopy (HCPCS screening).
pub const COLONOSCOPY_HCPCS: &str = "G0121";
/// FOBT / FIT (CPT).
pub const FOBT: &[&str] = &["82274", "82270"];
/// Stool DNA with FIT (CPT).
pub const SDNA_FIT: &str = "81528";
/// Flexible sigmoidoscopy (CPT).
pub const FLEX_SIG: &str = "45330";
/// CT colonography (CPT).
pub const CT_COLONOGRAPHY: &str = "74263";
/// Colorectal cancer (ICD-10-CM).
pub const COLORECTAL_CANCER: &[&str] = &["C18.9", "Z85.038", "C20"];
/// Total colectomy (CPT).
pub const TOTAL_COLECTOMY: &str = "44150";
/// Cervical cytology (CPT).
pub const CERVICAL_CYTOLOGY: &[&str] = &["88142", "88175"];
/// High-risk HPV test (CPT).
pub const HPV_TEST: &[&str] = &["87624", "87625"];
/// Absence of cervix (ICD-10-CM).
pub const ABSENCE_OF_CERVIX: &[&str] = &["Z90.710", "Z90.712"];
/// Diabetes (ICD-10-CM).
pub const DIABETES: &[&str] = &["E11.9", "E11.65", "E10.9", "E11.22"];
/// HbA1c lab (LOINC).
pub const HBA1C: &[&str] = &["4548-4", "4549-2", "17856-6"];
/// HbA1c result CPT-II codes: <7.0, 7.0-<8.0, 8.0-9.0, >9.0.
pub const HBA1C_LT7: &str = "3044F";
/// HbA1c 7.0-<8.0 (CPT-II).
pub const HBA1C_7_8: &str = "3051F";
/// HbA1c 8.0-9.0 (CPT-II).
pub const HBA1C_8_9: &str = "3052F";
/// HbA1c >9.0 (CPT-II).
pub const HBA1C_GT9: &str = "3046F";
/// Eye exam (CPT), counts when billed by an eye-care professional.
pub const EYE_EXAM: &[&str] = &["92014", "92004", "92250"];
/// Dilated eye exam without retinopathy (CPT-II).
pub const EYE_EXAM_NEGATIVE: &str = "2023F";
/// NUCC taxonomy: ophthalmology, optometrist, family medicine.
pub const OPHTHALMOLOGY: &str = "207W00000X";
/// NUCC taxonomy: optometrist.
pub const OPTOMETRIST: &str = "152W00000X";
/// NUCC taxonomy: family medicine.
pub const FAMILY_MEDICINE: &str = "207Q00000X";
/// eGFR (LOINC).
pub const EGFR: &[&str] = &["48642-3", "62238-1", "98979-8"];
/// Urine albumin-creatinine ratio (LOINC).
pub const UACR: &[&str] = &["9318-7", "14959-1"];
/// Quantitative urine albumin (LOINC).
pub const URINE_ALBUMIN: &str = "14957-5";
/// Urine creatinine (LOINC).
pub const URINE_CREATININE: &str = "2161-8";
/// ESRD (ICD-10-CM).
pub const ESRD: &[&str] = &["N18.6", "Z99.2"];
/// Statins (NDC, illustrative).
pub const STATINS: &[&str] = &["00071015523", "00310075190", "00006074031"];
/// Metformin and insulin (NDC, illustrative).
pub const DIABETES_MEDICATIONS: &[&str] = &["00093104801", "00088221905"];
/// Dementia medications (NDC, illustrative).
pub const DEMENTIA_MEDICATIONS: &[&str] = &["00093732056"];
/// Myalgia / myopathy (ICD-10-CM).
pub const MYALGIA: &str = "M79.10";
/// Essential hypertension (ICD-10-CM).
pub const HYPERTENSION: &str = "I10";
/// Systolic and diastolic blood pressure (LOINC).
pub const SYSTOLIC: &str = "8480-6";
/// Diastolic blood pressure (LOINC).
pub const DIASTOLIC: &str = "8462-4";
/// Systolic CPT-II: <130, 130-139, >=140.
pub const SYSTOLIC_CPT2: [&str; 3] = ["3074F", "3075F", "3077F"];
/// Diastolic CPT-II: <80, 80-89, >=90.
pub const DIASTOLIC_CPT2: [&str; 3] = ["3078F", "3079F", "3080F"];
/// Pregnancy (ICD-10-CM).
pub const PREGNANCY: &str = "Z33.1";
/// Hospice (HCPCS).
pub const HOSPICE: &[&str] = &["G9473", "Q5003", "S9126"];
/// Palliative care (ICD-10-CM).
pub const PALLIATIVE: &str = "Z51.5";
/// Frailty diagnosis (ICD-10-CM, age-related debility; and a fall).
pub const FRAILTY: &[&str] = &["R54", "W19.XXXA"];
/// Advanced illness (ICD-10-CM: dementia, heart failure).
pub const ADVANCED_ILLNESS: &[&str] = &["F03.90", "I50.9"];
/// Office visits (CPT).
pub const OFFICE_VISIT: &[&str] = &["99213", "99214", "99203", "99212"];
/// Everyday diagnoses for background visits (ICD-10-CM).
pub const COMMON_DIAGNOSES: &[&str] = &[
    "J06.9", "M54.50", "Z00.00", "E78.5", "K21.9", "R51.9", "J30.9", "F41.1", "M25.561", "L30.9", "N39.0",
    "R10.9", "Z23", "J02.9", "E66.9",
];
/// Everyday labs (LOINC) with a plausible value range and unit.
pub const COMMON_LABS: &[(&str, f64, f64, &str)] = &[
    ("2093-3", 140.0, 260.0, "mg/dL"),
    ("718-7", 11.0, 16.5, "g/dL"),
    ("2345-7", 70.0, 130.0, "mg/dL"),
];
