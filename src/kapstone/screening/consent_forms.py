"""The informed-consent form as data: consent/<form id>_v<version>.yaml. The current form is the highest version;
a signature stores the version and the SHA-256 of the file's text, so it always says exactly what was signed."""

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

CONSENT_DIR = Path(__file__).parent / "consent"
FORM_ID = "kap_group_consent"
_FILE_NAME = re.compile(rf"{FORM_ID}_v(\d+)\.yaml")


@dataclass(frozen=True)
class ConsentSection:
    heading: str
    text: str
    source: str


@dataclass(frozen=True)
class ConsentForm:
    id: str
    version: str
    title: str
    sections: tuple[ConsentSection, ...]
    declaration: str
    sha256: str


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
    return ConsentForm(
        id=raw["id"],
        version=str(raw["version"]),
        title=raw["title"],
        sections=tuple(sections),
        declaration=raw["declaration"],
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


@functools.cache
def current_form() -> ConsentForm:
    """The newest version of the consent form."""
    versions = {int(m[1]): path for path in CONSENT_DIR.iterdir() if (m := _FILE_NAME.fullmatch(path.name))}
    if not versions:
        raise FileNotFoundError(f"no {FORM_ID}_v*.yaml in {CONSENT_DIR}")
    form = _parse(versions[max(versions)])
    if form.version != str(max(versions)):
        raise ValueError(f"{versions[max(versions)].name} says version {form.version}")
    return form
