"""Pages of the long lists (patients, screening, adherence, groups) whose count stops at a bound.

Django's paginator counts every row of the list to say "Page 1 of 300", and on PostgreSQL a count reads every row:
at 10,000 patients a clinician's list spent more on saying how many there are than on showing them (issue 19).
Staff page through the first few pages or search, so the count goes only as far as is worth saying: past
COUNT_BOUND rows the page says "more than 1,000" and keeps a Next link. Reading one page costs the same in a
practice of a thousand patients or a hundred thousand.

A list read through a compiled read (kapstone.compiled_once) is paged by compiled_page: the read gives the page's rows
and counts them, with no queryset built only for the paginator to slice.
"""

from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.utils.functional import cached_property

if TYPE_CHECKING:
    # Only for annotations: kapstone.compiled_once imports this module for its bounded count (keys_up_to).
    from kapstone.compiled_once import CompiledRead

Row = TypeVar("Row", bound=Model)
if TYPE_CHECKING:
    _Paginator = Paginator[Any]
else:  # Django's classes take no type parameters at run time; only the type stubs' do.
    _Paginator = Paginator

COUNT_BOUND = 1000
# A page number from the address is capped before it sizes a count, so a pasted huge number cannot ask the
# database for a LIMIT past its integer range; past the list's end the paginator shows the last page as always.
_LAST_PAGE_CONSIDERED = 1_000_000


def keys_up_to(queryset: QuerySet[Row], limit: int) -> QuerySet[Row, dict[str, Any]]:
    """The rows' keys, no more than `limit`: what a bounded count counts. Neither the order nor the selected columns
    change how many rows there are: without them the database can stop at the bound instead of sorting the whole
    list first."""
    return queryset.order_by().values("pk")[:limit]


class CompiledList(Generic[Row]):
    """The rows of a read compiled once (kapstone.compiled_once) as BoundedPaginator pages through them: the slice it
    takes of a page is one call of the read for that page's rows, so no queryset is built only to be sliced, and the
    rows are counted up to the bound by the read's own count, or by `counted_by`'s (the same rows without the joins
    that show them). The read's last two positional arguments are the first row and the one past the last, as in
    `def build(user, start=None, end=None)` returning `[start:end]` of the list: each page is compiled once."""

    def __init__(
        self, read: "CompiledRead[Row]", *arguments: Any, counted_by: "CompiledRead[Any] | None" = None, **given: Any
    ) -> None:
        self.read = read
        self.arguments = arguments
        self.given = given  # the read's placeholders' values
        self.counted_by = counted_by or read

    def __getitem__(self, rows: slice) -> list[Row]:
        return self.read(*self.arguments, rows.start, rows.stop, **self.given)

    def count_up_to(self, at_most: int) -> int:
        return self.counted_by.count(*self.arguments, at_most=at_most, **self.given)


class BoundedPaginator(_Paginator):
    """A paginator that counts the rows only through the page asked for and COUNT_BOUND beyond the first page.

    When there are more rows than it counted, `count` is one more than `counted_through`: the page after the counted
    ones exists, so has_next stays true on the last counted page. `count_is_exact` says which case it is.
    """

    def __init__(
        self, object_list: "QuerySet[Row] | CompiledList[Row]", per_page: int, *, page_number: int | str | None = 1
    ):
        # Django's paginator only slices a list and counts it, and the count is this class's own: a CompiledList,
        # which cannot say its length or give every row, is all the list it needs.
        super().__init__(cast("Any", object_list), per_page)
        self.rows = object_list
        try:
            asked = min(max(int(page_number or 1), 1), _LAST_PAGE_CONSIDERED)
        except (TypeError, ValueError):
            asked = 1
        self.counted_through = max(asked * per_page, COUNT_BOUND)

    @cached_property
    def count(self) -> int:
        if isinstance(self.rows, CompiledList):
            return self.rows.count_up_to(self.counted_through + 1)
        return keys_up_to(self.rows, self.counted_through + 1).count()

    @property
    def count_is_exact(self) -> bool:
        return self.count <= self.counted_through

    @property
    def count_label(self) -> str:
        """How many rows, as a page says it: "57", or "more than 1,000" when the count stopped at the bound."""
        return f"{self.count:,}" if self.count_is_exact else f"more than {self.counted_through:,}"

    @property
    def num_pages_label(self) -> str:
        pages = self.num_pages
        return f"{pages:,}" if self.count_is_exact else f"more than {pages - 1:,}"


def bounded_page(
    object_list: "QuerySet[Row] | CompiledList[Row]", per_page: int, page_number: int | str | None
) -> Page[Row]:
    """The page asked for (the first for an unreadable number, the last past the end), counted up to the bound."""
    return BoundedPaginator(object_list, per_page, page_number=page_number).get_page(page_number)


def compiled_page(
    read: "CompiledRead[Row]",
    *arguments: Any,
    per_page: int,
    page_number: int | str | None,
    counted_by: "CompiledRead[Any] | None" = None,
    **given: Any,
) -> tuple[Page[Row], list[Row]]:
    """The page asked for of the rows a compiled read gives (see CompiledList: `arguments` are its key, `given` its
    placeholders' values), as bounded_page pages and counts, and the page's rows, read by one call of the read."""
    page = bounded_page(CompiledList(read, *arguments, counted_by=counted_by, **given), per_page, page_number)
    return page, cast("list[Row]", page.object_list)
