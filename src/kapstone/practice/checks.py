"""A start-up check of every declared practice setting, so a data file whose cited default lies past its own hard
bound (or whose hard bound cites an unknown source) stops `kapstone check`, `migrate` and `runserver` instead of
surfacing as a settings page or a dosing room that cannot load."""

from django.core import checks

from kapstone.practice import registry


@checks.register()
def practice_settings_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    try:
        registry.all_specs()
        registry.ordered_pairs()
    except (ValueError, KeyError) as error:
        return [checks.Error(f"The practice settings cannot be loaded: {error}", id="practice.E001")]
    return []
