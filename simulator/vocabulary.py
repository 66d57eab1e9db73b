"""A small built-in vocabulary of the code systems GenHealth's API speaks."""

from __future__ import annotations

import warnings
from functools import cache
from typing import NamedTuple


class Concept(NamedTuple):
    """One history or prediction item."""

    code: str
    system: str
    display: str

    def as_dict(self) -> dict[str, str]:
        """Return the item in the upstream's JSON shape."""
        return {"code": self.code, "system": self.system, "display": self.display}


TIMEGAPS = ("00-01-month", "01-03-month", "03-06-month", "06-12-month", "12-99-month")
# Short gaps dominate real claim sequences; long gaps are rare.
TIMEGAP_WEIGHTS = (0.35, 0.30, 0.20, 0.10, 0.05)
EVENT_SYSTEMS = ("ICD10CM", "RXNORM-FREETEXT", "CPT4", "HCPCS", "NDC", "ICD10PCS")
EVENT_WEIGHTS = (0.30, 0.22, 0.20, 0.10, 0.10, 0.08)

_ICD10CM_CODES = (
    "E11", "E11.9", "E11.65", "E11.3551", "R73.03", "Z79.4", "Z79.84", "I10",
    "E78.5", "I25.10", "I48.91", "I50.9", "I63.9", "J44.9", "J45.909", "N18.30",
    "N39.0", "E03.9", "E55.9", "E66.9", "E87.6", "D64.9", "K21.9", "K58.9",
    "F32.9", "F41.1", "G43.909", "G47.33", "M17.11", "M54.50", "M81.0", "H40.9",
    "L40.0", "R51.9", "Z00.00", "Z23", "E29.1", "B20", "H25.9", "M10.9",
)  # fmt: skip

_ICD10PCS = {
    "0DTJ4ZZ": "Resection of Appendix, Percutaneous Endoscopic Approach",
    "0FT44ZZ": "Resection of Gallbladder, Percutaneous Endoscopic Approach",
    "0SRC0J9": "Replacement of Right Knee Joint with Synthetic Substitute, Cemented, Open Approach",
    "02703DZ": "Dilation of Coronary Artery, One Artery with Intraluminal Device, Percutaneous Approach",
    "0DJ08ZZ": "Inspection of Upper Intestinal Tract, Via Natural or Artificial Opening Endoscopic",
    "0DJD8ZZ": "Inspection of Lower Intestinal Tract, Via Natural or Artificial Opening Endoscopic",
    "5A1D70Z": "Performance of Urinary Filtration, Intermittent, Less than 6 Hours Per Day",
    "3E0234Z": "Introduction of Serum, Toxoid and Vaccine into Muscle, Percutaneous Approach",
}

_CPT4 = {
    "99213": "Office/outpatient visit, established patient, low complexity",
    "99214": "Office/outpatient visit, established patient, moderate complexity",
    "99203": "Office/outpatient visit, new patient, low complexity",
    "3021F": "Left ventricular ejection fraction less than 40% or moderately/severely depressed",
    "3044F": "Most recent hemoglobin A1c level less than 7.0%",
    "3074F": "Most recent systolic blood pressure less than 130 mm Hg",
    "2022F": "Dilated retinal eye exam with evidence of retinopathy",
    "83036": "Hemoglobin; glycosylated (A1C)",
    "80053": "Comprehensive metabolic panel",
    "80061": "Lipid panel",
    "85025": "Complete blood count with automated differential",
    "82043": "Albumin; urine, microalbumin, quantitative",
    "93000": "Electrocardiogram, routine, with interpretation and report",
    "92014": "Ophthalmological services, comprehensive, established patient",
    "67028": "Intravitreal injection of a pharmacologic agent",
}

_HCPCS = {
    "A4452": "Tape, waterproof, per 18 square inches",
    "A4450": "Tape, non-waterproof, per 18 square inches",
    "A4253": "Blood glucose test or reagent strips for home blood glucose monitor, per 50 strips",
    "A4259": "Lancets, per box of 100",
    "A4206": "Syringe with needle, sterile, 1 cc or less, each",
    "E0607": "Home blood glucose monitor",
    "G0008": "Administration of influenza virus vaccine",
    "J0178": "Injection, aflibercept, 1 mg",
}

# Package codes are illustrative: the proxy checks only the 11-digit shape.
_NDC = {
    "68788788308": "metformin hydrochloride 500 mg oral tablet",
    "00088222033": "insulin glargine 100 unit/mL injection, 10 mL vial",
    "00378018101": "levothyroxine sodium 50 mcg oral tablet",
    "00093717898": "lisinopril 10 mg oral tablet",
    "60505257809": "atorvastatin calcium 20 mg oral tablet",
    "00172376110": "amlodipine besylate 5 mg oral tablet",
}

_DRUGS = (
    "metformin", "insulin glargine", "empagliflozin", "semaglutide", "levothyroxine",
    "lisinopril", "losartan", "amlodipine", "hydrochlorothiazide", "atorvastatin",
    "simvastatin", "metoprolol", "apixaban", "furosemide", "omeprazole",
    "pantoprazole", "albuterol", "sertraline", "gabapentin", "aflibercept",
)  # fmt: skip

# Items a clinician would expect to follow a diagnosis, keyed by ICD-10-CM prefix.
_RELATED = {
    "E11": ("metformin", "insulin glargine", "empagliflozin", "83036", "3044F", "A4253", "A4259"),
    "E11.3": ("aflibercept", "J0178", "67028", "92014", "2022F"),
    "I10": ("lisinopril", "amlodipine", "losartan", "hydrochlorothiazide", "3074F"),
    "E78": ("atorvastatin", "simvastatin", "80061"),
    "E03": ("levothyroxine",),
    "K21": ("omeprazole", "pantoprazole"),
    "I48": ("apixaban", "metoprolol", "93000"),
    "I50": ("furosemide", "metoprolol", "3021F"),
    "J44": ("albuterol",),
    "J45": ("albuterol",),
    "F32": ("sertraline",),
    "F41": ("sertraline",),
}


@cache
def concepts(system: str) -> tuple[Concept, ...]:
    """Return the built-in concepts of one code system (empty for unknown systems)."""
    if system == "timegap":
        return tuple(Concept(token, system, token) for token in TIMEGAPS)
    if system == "ICD10CM":
        return _icd10cm_concepts()
    if system == "RXNORM-FREETEXT":
        return tuple(Concept(drug, system, drug) for drug in _DRUGS)
    tables = {"ICD10PCS": _ICD10PCS, "CPT4": _CPT4, "HCPCS": _HCPCS, "NDC": _NDC}
    return tuple(Concept(code, system, display) for code, display in tables.get(system, {}).items())


def warm_up() -> None:
    """Build every table now, so that no request pays for loading the ICD-10-CM code set."""
    for system in ("timegap", *EVENT_SYSTEMS):
        concepts(system)


def _icd10cm_concepts() -> tuple[Concept, ...]:
    """Return the ICD-10-CM concepts with their official CMS descriptions."""
    # Imported on first use: the package parses the whole code set (seconds) at import.
    with warnings.catch_warnings():
        # simple-icd-10-cm 1.5 loads its data through a deprecated importlib.resources call.
        warnings.filterwarnings("ignore", r"\w+ is deprecated\. Use files\(\)", DeprecationWarning)
        import simple_icd_10_cm as icd10cm
    return tuple(Concept(code, "ICD10CM", icd10cm.get_description(code)) for code in _ICD10CM_CODES)


@cache
def _by_code() -> dict[str, Concept]:
    """Index every event concept by its code (codes do not collide across systems)."""
    return {concept.code: concept for system in EVENT_SYSTEMS for concept in concepts(system)}


def related(icd10cm_code: str) -> tuple[Concept, ...]:
    """Return concepts that plausibly follow a diagnosis code."""
    matches = [codes for prefix, codes in _RELATED.items() if icd10cm_code.startswith(prefix)]
    return tuple(_by_code()[code] for codes in matches for code in codes)
