"""PDF documents (superbills, statements, estimates, the controlled-substance log, the outcomes report) from
Kapstone's own HTML, through WeasyPrint, reading no file and no address.

A document's HTML is a template of escaped text with its style written inline: it needs nothing from outside
itself. WeasyPrint's own fetcher would read whatever a link, an image or a style in that HTML names: a file of the
server (file:///…) or an address inside its network. So only data: URLs (bytes written into the document) are
read, and anything else that ever reached a document is left out rather than fetched."""

FETCHED_PROTOCOLS = ("data",)


def pdf_from_html(html: str) -> bytes:
    # deferred: heavy library (Pango, fonts), loaded only when a document is asked for.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=FETCHED_PROTOCOLS)).write_pdf()
