"""A template comment never reaches the page: Django's {# #} ends at the end of its line, so a comment that runs on
to a second line was printed to the reader (the portal's questionnaire history showed one to every patient)."""

from pathlib import Path

import kapstone


def test_no_template_opens_a_one_line_comment_it_closes_on_another_line():
    templates = Path(kapstone.__file__).parent
    broken = [
        f"{path.relative_to(templates)}:{number}"
        for path in templates.rglob("*.html")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if line.rfind("{#") > line.rfind("#}")
    ]
    assert broken == []
