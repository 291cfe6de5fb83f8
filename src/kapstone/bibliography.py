"""Kapstone's bibliography (sources.yaml) and the check that every data file cites it by id.

A citation is an id in square brackets inside a `source` text ("[spravato-pi] section 4"), or a bare id as the
whole value. The check walks every YAML data file of every app, so a rule, threshold or code added with an unknown
id, or with no id at all, fails start-up (a Django system check) and the test suite. It reads files only and
imports no app, so every layer may use it.
"""

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from django.core import checks

PACKAGE_DIR = Path(__file__).parent
SOURCES_FILE = PACKAGE_DIR / "sources.yaml"
# Keys whose value is a citation: a text with [ids], a bare id, or a list of either.
CITATION_KEYS = frozenset({"source", "sources", "hard_source"})
CITED_ID = re.compile(r"\[([a-z0-9][a-z0-9-]*)\]")
BARE_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
KINDS = ("primary", "guideline", "practice", "convention", "operational")
# Data files whose citations are left as written, each with why. A signed consent form stores the SHA-256 of its
# whole file (screening/consent_forms.py), so rewriting a section's `source` would change what every past
# signature says was signed; a new version of the form cites by id instead.
CITATION_EXCEPTIONS = {
    # Signatures pin this file's whole text, so it is kept as it was signed; version 2 has the same words and
    # cites its sources by id.
    "screening/consent/kap_group_consent_v1.yaml": "its whole text is hashed into every signature",
}


@dataclass(frozen=True)
class Source:
    id: str
    kind: str
    citation: str
    url: str = ""
    doi: str = ""


@functools.cache
def sources() -> dict[str, Source]:
    data = yaml.safe_load(SOURCES_FILE.read_text(encoding="utf-8"))
    found = {}
    for source_id, entry in data["sources"].items():
        if not BARE_ID.match(source_id) or entry.get("kind") not in KINDS or not entry.get("citation"):
            raise ValueError(
                f"sources.yaml: {source_id!r} needs a lower-case id, a kind ({', '.join(KINDS)}) and a citation"
            )
        found[source_id] = Source(
            source_id,
            entry["kind"],
            " ".join(entry["citation"].split()),
            entry.get("url", ""),
            entry.get("doi", ""),
        )
    return found


def cited_ids(value: str) -> list[str]:
    """The ids a citation text names: the bracketed ones, or the whole value when it is a bare id."""
    value = value.strip()
    return [value] if BARE_ID.match(value) else CITED_ID.findall(value)


def _plain(text: str) -> str:
    """The words of a text, without punctuation, case or articles ("after a restful sleep" says what "after restful
    sleep" does)."""
    return " ".join(w for w in re.sub(r"[^a-z0-9]+", " ", text.lower()).split() if w not in ("a", "an", "the"))


def _new_to(citation: str, annotation: str) -> str:
    """The annotation after an [id] less each of its clauses (split at ";") the reference already says: a data file
    notes what it takes from a source in the source's own words, which the written-out reference then said twice
    ("… no driving until the next day after restful sleep. no driving until …"). A clause of a word or two ("and")
    is kept: it joins ids rather than repeating one."""
    said = f" {_plain(citation)} "
    clauses = annotation.split(";")
    kept = [c for c in clauses if len(_plain(c).split()) < 3 or f" {_plain(c)} " not in said]
    if len(kept) == len(clauses):
        return annotation
    return ";".join(kept) if kept and _plain(";".join(kept)) else ""


def describe(value: str) -> str:
    """A citation text with each [id] followed by the full reference, for a page that shows the source; what the text
    says after an id that its reference already says is not said again (_new_to)."""
    known = sources()
    value = value.strip()
    if BARE_ID.match(value) and value in known:
        return known[value].citation
    # The text split at its ids: [before, id, after, id, after, ...], each "after" the annotation of the id before it.
    parts = CITED_ID.split(value)
    written = [parts[0]]
    for source_id, annotation in zip(parts[1::2], parts[2::2], strict=True):
        source = known.get(source_id)
        if source is None:
            written += [f"[{source_id}]", annotation]
            continue
        after = _new_to(source.citation, annotation)
        if not after.strip():
            after = " "
        elif after.lstrip()[0] not in ";,:":  # a clause dropped from the front: what is left reads on after a space
            after = f" {after.lstrip()}"
        written += [source.citation, after]
    return " ".join("".join(written).split())


def _citation_values(node, where: str):
    """(location, text) for every citation value in a loaded YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{key}" if where else str(key)
            if key in CITATION_KEYS and isinstance(value, str):
                yield here, value
            elif key in CITATION_KEYS and isinstance(value, list) and all(isinstance(item, str) for item in value):
                for position, item in enumerate(value):
                    yield f"{here}[{position}]", item
            else:
                yield from _citation_values(value, here)
    elif isinstance(node, list):
        for position, item in enumerate(node):
            yield from _citation_values(item, f"{where}[{position}]")


def data_files(root: Path = PACKAGE_DIR) -> list[Path]:
    return sorted(path for path in root.rglob("*.yaml") if path != SOURCES_FILE)


def citation_problems(root: Path | None = None) -> list[str]:
    """Every citation in the data files under `root` (the package) that names no id, or an unknown one."""
    root = root or PACKAGE_DIR
    known = sources()
    problems = []
    for path in data_files(root):
        if path.relative_to(root).as_posix() in CITATION_EXCEPTIONS:
            continue
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for where, text in _citation_values(document, ""):
            ids = cited_ids(text)
            label = f"{path.relative_to(root)}: {where}"
            if not ids:
                problems.append(f"{label} cites no source id (write it as [id]; ids are in sources.yaml)")
            problems.extend(
                f"{label} cites unknown source id {source_id!r}" for source_id in ids if source_id not in known
            )
    return problems


def citation_check(app_configs=None, **kwargs) -> list:
    """Django system check (registered by the practice app): a data file citing an unknown id, or no id, stops
    `kapstone check`, `migrate` and `runserver`, as the bibliography cannot then show what a number rests on."""
    return [
        checks.Error(
            problem, hint="add the source to src/kapstone/sources.yaml or cite an id it holds", id="kapstone.E010"
        )
        for problem in citation_problems()
    ]


def markdown() -> str:
    """docs/sources.md: the bibliography for people, generated from sources.yaml."""
    lines = [
        "# Sources",
        "",
        "Kapstone's bibliography. Every clinical rule, threshold, code and default in the data files cites one of",
        "these ids (`[id]` in its `source`). Generated from `src/kapstone/sources.yaml` by",
        "`kapstone sources --markdown > docs/sources.md`; a test fails when the two differ.",
        "",
        "Kinds: **primary** (a paper, label, regulation or manual), **guideline** (a consensus or professional",
        "statement), **practice** (what practices publish), **convention** (a common convention with no single primary",
        "source: always a practice setting), **operational** (Kapstone's own default: no clinical claim).",
        "",
        "| id | kind | reference |",
        "|---|---|---|",
    ]
    for source in sources().values():
        link = f" <{source.url}>" if source.url else ""
        doi = f" doi:{source.doi}" if source.doi else ""
        lines.append(f"| `{source.id}` | {source.kind} | {source.citation}{doi}{link} |")
    return "\n".join(lines) + "\n"
