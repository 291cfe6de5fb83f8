from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.simple_tag(takes_context=True)
def page_url(context, number) -> str:
    """This list's address at another page, keeping its search and filters."""
    query = context["request"].GET.copy()
    query["page"] = number
    return "?" + query.urlencode()
