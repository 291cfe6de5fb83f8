"""Superbills, statements and Good Faith Estimates as PDF documents (WeasyPrint)."""

from django.http import HttpResponse
from django.template.loader import render_to_string

from kapstone.pdf import pdf_from_html


def pdf_bytes(template: str, context: dict) -> bytes:
    return pdf_from_html(render_to_string(template, context))


def pdf_response(template: str, context: dict, filename: str) -> HttpResponse:
    response = HttpResponse(pdf_bytes(template, context), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response
