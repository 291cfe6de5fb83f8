"""A start-up check of the questionnaires, so a practice's broken wording file stops `kapstone check`, `migrate`
and `runserver` with its problem named, rather than surfacing later on a patient's form."""

from django.core import checks

from kapstone.measures.scoring import list_instruments
from kapstone.measures.wording import WordingError


@checks.register()
def instrument_wording_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    try:
        list_instruments()
    except WordingError as error:
        return [checks.Error(str(error), id="measures.E001")]
    return []
