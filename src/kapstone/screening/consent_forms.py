"""The informed-consent form as data: consent/<form id>_v<version>.yaml. The current form is the highest version;
a signature stores the version and the SHA-256 of the file's text, so it always says exactly what was signed.

A signature on an earlier version stands for the current one only when that version put exactly the same words
before the patient (title, headings, text and declaration): a version that changes only its sources needs no new
signature, and any change to the words does."""

import functools
import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from kapstone import bibliography

CONSENT_DIR = Path(__file__).parent / "consent"
FORM_ID = "kap_group_consent"
_FILE_NAME = re.compile(rf"{FORM_ID}_v(\d+)\.yaml")


@dataclass(frozen=True)
class ConsentSection:
    heading: str
    text: str
    source: str

    @property
    def source_described(self) -> str:
        """The source with each bibliography id written out as its reference: the reader is a patient."""
        return bibliography.describe(self.source)


@dataclass(frozen=True)
class ConsentForm:
    id: str
    version: str
    title: str
    sections: tuple[ConsentSection, ...]
    declaration: str
    sha256: str
    # What the patient reads, hashed without the sources, so two versions with the same words can be told.
    words_sha256: str
    # This version and every earlier one with the same words: a signature on any of them is in force.
    accepted_versions: tuple[str, ...] = ()


def _parse(path: Path) -> ConsentForm:
    text = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    if raw.get("id") != FORM_ID or not raw.get("sections") or not raw.get("declaration"):
        raise ValueError(f"{path.name}: needs id {FORM_ID}, sections and a declaration")
    sections = []
    for section in raw["sections"]:
        if not all(section.get(key) for key in ("heading", "text", "source")):
            raise ValueError(f"{path.name}: every section needs a heading, text and source")
        sections.append(ConsentSection(section["heading"], " ".join(section["text"].split()), section["source"]))
    words = [raw["title"], *(part for section in sections for part in (section.heading, section.text))]
    words.append(" ".join(raw["declaration"].split()))
    return ConsentForm(
        id=raw["id"],
        version=str(raw["version"]),
        title=raw["title"],
        sections=tuple(sections),
        declaration=raw["declaration"],
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        words_sha256=hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest(),
    )


@functools.cache
def current_form() -> ConsentForm:
    """The newest version of the consent form."""
    versions = {int(m[1]): path for path in CONSENT_DIR.iterdir() if (m := _FILE_NAME.fullmatch(path.name))}
    if not versions:
        raise FileNotFoundError(f"no {FORM_ID}_v*.yaml in {CONSENT_DIR}")
    forms = {number: _parse(path) for number, path in versions.items()}
    for number, form in forms.items():
        if form.version != str(number):
            raise ValueError(f"{versions[number].name} says version {form.version}")
    newest = forms[max(forms)]
    same_words = tuple(str(n) for n in sorted(forms) if forms[n].words_sha256 == newest.words_sha256)
    return replace(newest, accepted_versions=same_words)
