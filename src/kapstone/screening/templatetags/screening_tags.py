from django import template

register = template.Library()


@register.filter
def words(value) -> str:
    """needs_review -> needs review"""
    return str(value or "").replace("_", " ")
