"""Form fields choosing members of staff, for every app's forms: one label, so a person reads the same in each list
of staff, by name and credentials with their role, as a prescriber must be told from a therapist of the same name."""

from django import forms

from kapstone.accounts.models import DISPLAY_NAME_FIELDS, User

# What staff_label reads of a person (display_name and the role), for a page that names staff without their whole row.
STAFF_LABEL_FIELDS = (*DISPLAY_NAME_FIELDS, "role")


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
