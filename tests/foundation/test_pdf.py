"""A PDF document is drawn from its own HTML and reads nothing a link, an image or a style in it names."""

import urllib.request

from kapstone.pdf import pdf_from_html

NAMES_OUTSIDE = (
    '<link rel="stylesheet" href="http://169.254.169.254/latest/meta-data/">'
    '<img src="file:///etc/passwd" alt="">'
    '<p style="background: url(file:///etc/hostname)">Superbill</p>'
)


def test_a_document_opens_no_file_and_no_address_its_html_names(monkeypatch):
    from weasyprint import HTML

    opened = []

    def open_recorded(self, request, *args, **kwargs):
        opened.append(getattr(request, "full_url", request))
        raise OSError("nothing is opened in a test")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", open_recorded)
    HTML(string=NAMES_OUTSIDE).write_pdf()
    assert opened, "WeasyPrint's own fetcher opens what the HTML names"
    opened.clear()
    assert pdf_from_html(NAMES_OUTSIDE).startswith(b"%PDF")
    assert opened == []
