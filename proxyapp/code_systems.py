"""Rules for the code systems a patient history may use (see spec/upstream.md)."""

from __future__ import annotations

import functools
import importlib
import re
import warnings
from enum import Enum
from types import ModuleType

Problems = dict[str, list[str]]


class CodeSystem(str, Enum):
    """A code system the upstream model understands, by its wire name."""

    AGE = "age"
    GENDER = "gender"
    ICD10CM = "ICD10CM"
    ICD10PCS = "ICD10PCS"
    CPT4 = "CPT4"
    HCPCS = "HCPCS"
    NDC = "NDC"
    RXNORM_FREETEXT = "RXNORM-FREETEXT"
    TIMEGAP = "timegap"


SYSTEM_VALUES: tuple[str, ...] = tuple(system.value for system in CodeSystem)

MAX_AGE = 120
GENDERS: tuple[str, ...] = ("male", "female")
# upstream.md lists 00-01, 03-06, 06-12 and 12-99 and warns the list may be incomplete;
# 01-03 fills the obvious hole between 00-01 and 03-06.
TIMEGAP_TOKENS: tuple[str, ...] = (
    "00-01-month",
    "01-03-month",
    "03-06-month",
    "06-12-month",
    "12-99-month",
)

# Bounded so a stream of distinct well-formed codes cannot grow memory without limit;
# the whole ICD-10-CM set (~100k items) still mostly fits.
_ICD10CM_CACHE_SIZE = 65536

# Character classes are spelled out rather than \d or \w, which also match non-ASCII digits.
_FORMATS: dict[CodeSystem, re.Pattern[str]] = {
    CodeSystem.AGE: re.compile(r"0|[1-9][0-9]{0,2}"),
    CodeSystem.ICD10CM: re.compile(r"[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?"),
    CodeSystem.ICD10PCS: re.compile(r"[0-9A-HJ-NP-Z]{7}"),
    CodeSystem.CPT4: re.compile(r"[0-9]{4}[0-9FTU]"),
    CodeSystem.HCPCS: re.compile(r"[A-V][0-9]{4}"),
    CodeSystem.NDC: re.compile(
        r"[0-9]{11}|[0-9]{4}-[0-9]{4}-[0-9]{2}|[0-9]{5}-[0-9]{3}-[0-9]{2}|[0-9]{5}-[0-9]{4}-[0-9]"
    ),
}

_HINTS: dict[CodeSystem, str] = {
    CodeSystem.AGE: f"An age is a whole number of years from 0 to {MAX_AGE} in plain digits.",
    CodeSystem.GENDER: "Gender must be one of: " + ", ".join(GENDERS) + ".",
    CodeSystem.TIMEGAP: "A timegap must be one of: " + ", ".join(TIMEGAP_TOKENS) + ".",
    CodeSystem.ICD10CM: (
        "ICD-10-CM codes are a capital letter, a digit and a letter or digit, optionally "
        "followed by up to 4 more letters or digits, with or without a dot after the "
        "third character (e.g. E11, E11.3551 or E113551)."
    ),
    CodeSystem.ICD10PCS: (
        "ICD-10-PCS codes are exactly 7 digits or capital letters other than I and O "
        "(e.g. 0DTJ4ZZ)."
    ),
    CodeSystem.CPT4: (
        "CPT-4 codes are 4 digits followed by a digit, F, T or U (e.g. 99213 or 3021F)."
    ),
    CodeSystem.HCPCS: "HCPCS Level II codes are a letter from A to V and 4 digits (e.g. A4452).",
    CodeSystem.NDC: (
        "NDC codes are 11 digits, or 10 digits hyphenated 4-4-2, 5-3-2 or 5-4-1 "
        "(e.g. 68788788308 or 0002-3227-01)."
    ),
    CodeSystem.RXNORM_FREETEXT: "A free-text drug name must not be blank.",
}

# For these systems the code is the human-readable value, so display repeats it.
_DISPLAY_ECHOES_CODE = frozenset({CodeSystem.AGE, CodeSystem.GENDER, CodeSystem.TIMEGAP})

UNKNOWN_SYSTEM_MESSAGE = "Unknown code system; use one of: " + ", ".join(SYSTEM_VALUES) + "."


def code_problems(system: str, code: str, display: str, *, strict_codes: bool) -> Problems:
    """Return what is wrong with one history item, per field; empty when it is valid."""
    try:
        kind = CodeSystem(system)
    except ValueError:
        return {"system": [UNKNOWN_SYSTEM_MESSAGE]}
    problems: Problems = {}
    code_message = _code_problem(kind, code, strict_codes=strict_codes)
    if code_message:
        problems["code"] = [code_message]
    if kind in _DISPLAY_ECHOES_CODE and display != code:
        problems["display"] = [f"For {kind.value} items, display must equal code."]
    return problems


def preload_code_sets() -> None:
    """Load the official ICD-10-CM code set now so the first strict check is fast."""
    _icd10cm_exists("E11")


def _code_problem(kind: CodeSystem, code: str, *, strict_codes: bool) -> str | None:
    """Return the message for a malformed or unknown code, or None when it is fine."""
    if not _is_well_formed(kind, code):
        return f"'{code}' is not a valid {kind.value} code. {_HINTS[kind]}"
    if kind is CodeSystem.ICD10CM and strict_codes and not _icd10cm_exists(code):
        return f"'{code}' is not an ICD-10-CM code in the official code set."
    return None


def _is_well_formed(kind: CodeSystem, code: str) -> bool:
    """Tell whether code has the published shape for its system."""
    if kind is CodeSystem.GENDER:
        return code in GENDERS
    if kind is CodeSystem.TIMEGAP:
        return code in TIMEGAP_TOKENS
    if kind is CodeSystem.RXNORM_FREETEXT:
        return bool(code.strip())
    if _FORMATS[kind].fullmatch(code) is None:
        return False
    return kind is not CodeSystem.AGE or int(code) <= MAX_AGE


@functools.lru_cache(maxsize=_ICD10CM_CACHE_SIZE)
def _icd10cm_exists(code: str) -> bool:
    """Tell whether code (dotted or not) is in the CMS ICD-10-CM code set."""
    return _icd10cm_module().is_valid_item(code)


@functools.cache
def _icd10cm_module() -> ModuleType:
    """Import simple_icd_10_cm, which parses the bundled CMS code set."""
    # Imported on first use because parsing takes seconds; only strict checks pay for it.
    # The package reads its data with importlib.resources' legacy API, deprecated since
    # Python 3.11; that warning is the package's, and must not fail warnings-as-errors runs.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", r".* is deprecated\. Use files\(\)", DeprecationWarning
        )
        return importlib.import_module("simple_icd_10_cm")
