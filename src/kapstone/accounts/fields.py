"""Form fields choosing members of staff, for every app's forms: one label, so a person reads the same in each list
of staff, by name and credentials with their role, as a prescriber must be told from a therapist of the same name."""

from collections.abc import Iterator

from django import forms
from django.db.models import QuerySet
from django.forms.models import ModelChoiceIterator, ModelChoiceIteratorValue

from kapstone.accounts.models import User

# What staff_label reads of a person (display_name and the role), for a page that names staff without their whole row.
STAFF_LABEL_FIELDS = ("first_name", "last_name", "username", "credentials", "role")


def staff_label(person: User) -> str:
    return f"{person.display_name} ({person.get_role_display()})"


class StaffChoiceField(forms.ModelChoiceField):
    """One member of staff."""

    def label_from_instance(self, obj: User) -> str:
        return staff_label(obj)


class StaffMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Several members of staff."""

    def label_from_instance(self, obj: User) -> str:
        return staff_label(obj)


class _OneRead:
    """The people several fields offer, read when the first of them is drawn."""

    def __init__(self, people: QuerySet[User]) -> None:
        self.people = people
        self.rows: list[User] | None = None

    def __call__(self) -> list[User]:
        if self.rows is None:
            self.rows = list(self.people)
        return self.rows


class _SharedChoices(ModelChoiceIterator):
    """A field's choices drawn from a read it shares with the form's other fields."""

    def __init__(self, field: forms.ModelChoiceField, read: _OneRead) -> None:
        super().__init__(field)
        self.read = read

    def __iter__(self) -> Iterator[tuple[ModelChoiceIteratorValue | str, str]]:
        if self.field.empty_label is not None:
            yield ("", str(self.field.empty_label))
        for person in self.read():
            yield self.choice(person)

    def __len__(self) -> int:
        return len(self.read()) + (1 if self.field.empty_label is not None else 0)

    def __bool__(self) -> bool:
        return self.field.empty_label is not None or bool(self.read())


def draw_from_one_read(form: forms.BaseForm, *names: str) -> None:
    """Draws the form's fields `names`, which offer the same people (a care team and its lead), from one read of the
    first's queryset: each read them again as it was drawn (issue 19). A submitted choice is still checked against
    each field's own queryset, so this changes only where the drawn list comes from."""
    fields: list[forms.ModelChoiceField] = []
    for name in names:
        field = form.fields[name]
        if not isinstance(field, forms.ModelChoiceField):
            raise TypeError(f"{name} is not a field choosing from a queryset.")
        fields.append(field)
    people = fields[0].queryset
    if people is None:
        raise TypeError(f"{names[0]} has no queryset to read.")
    read = _OneRead(people)
    for field in fields:
        field.widget.choices = _SharedChoices(field, read)
