"""A start-up check of the course templates, so a practice's broken template file stops `kapstone check`,
`migrate` and `runserver` with every problem listed, rather than surfacing later on a group page."""

from django.core import checks

from kapstone.program.course_templates import TemplateError, load_templates


@checks.register()
def course_templates_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    try:
        load_templates()
    except TemplateError as error:
        return [checks.Error(problem, id="program.E001") for problem in error.problems]
    return []
