"""Number formats of the outcomes report: one place, so the page, the HTML file and the PDF agree."""

from django import template

register = template.Library()
DASH = "–"


@register.filter
def num(value, digits=1):
    if value is None or value != value:  # None or NaN
        return DASH
    return f"{value:.{int(digits)}f}"


@register.filter
def num_top_coded(value, top_code=None):
    """A number that was capped at `top_code`: the cap itself reads '90 or older', never as an exact value."""
    if top_code is not None and value is not None and value == value and value >= top_code:
        return f"{top_code:.0f} or older"
    return num(value)


@register.filter
def pvalue(value):
    if value is None or value != value:
        return DASH
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@register.filter
def mean_ci(estimate, digits=1):
    """'12.3 (10.1 to 14.5)': a mean and its 95% CI, or the mean alone when n is too small for an interval."""
    if estimate is None or estimate.mean is None:
        return DASH
    if estimate.low is None:
        return num(estimate.mean, digits)
    return f"{num(estimate.mean, digits)} ({num(estimate.low, digits)} to {num(estimate.high, digits)})"


@register.filter
def mean_sd(estimate, digits=1):
    if estimate is None or estimate.mean is None:
        return DASH
    return (
        f"{num(estimate.mean, digits)} ({num(estimate.sd, digits)})"
        if estimate.sd is not None
        else num(estimate.mean, digits)
    )


@register.filter
def rate(value):
    """'12/40 (30.0%; 95% CI 18.1 to 45.4%)'."""
    if value is None or value.n == 0:
        return f"{DASH} (no data)"
    return f"{value.count}/{value.n} ({100 * value.proportion:.1f}%; {100 * value.low:.1f} to {100 * value.high:.1f}%)"


@register.filter
def cell(count, minimum=0):
    """A count of patients or events, or, for a researcher, 'fewer than 11' when it is 1 to 10 (suppression.py)."""
    if count is not None and minimum and 0 < count < minimum:
        return f"fewer than {minimum}"
    return count


@register.filter
def per_100(value, minimum=0):
    if value is None or value.per_100 is None:
        return f"{DASH} (no sessions)"
    if minimum and (0 < value.events < minimum or value.sessions < minimum):
        return f"fewer than {minimum} (withheld)"
    return f"{value.events} ({value.per_100:.2f}; {value.low:.2f} to {value.high:.2f})"


@register.filter
def percent(row):
    return DASH if row.percent is None else f"{row.percent:.1f}%"
