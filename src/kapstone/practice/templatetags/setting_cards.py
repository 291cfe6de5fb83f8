from django import template
from django.template.defaulttags import CsrfTokenNode
from django.utils.safestring import SafeString

from kapstone.formrender import shown
from kapstone.practice import setting_cards
from kapstone.practice.selectors import SettingRow

register = template.Library()

_PAGE = "setting_cards.page"


@register.simple_tag(takes_context=True)
def setting_card(context, row: SettingRow, is_refused: bool) -> SafeString:
    """`{% include "practice/includes/setting_card.html" %}` as it was, written out in Python (setting_cards.py)
    with the page's `refused`, `settings_url` and CSRF token."""
    # The address and the token field are the same in every card: written once for the page, as each took
    # longer to write than half a card.
    page = context.render_context.get(_PAGE)
    if page is None:
        page = context.render_context[_PAGE] = (shown(context["settings_url"]), CsrfTokenNode().render(context))
    settings_url, csrf_field = page
    return setting_cards.setting_card(
        row, is_refused=is_refused, refused=context.get("refused"), settings_url=settings_url, csrf_field=csrf_field
    )
