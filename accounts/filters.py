import django_filters
from django import forms
from django.db.models import Q, QuerySet

from accounts.models import Role, User


class UserFilter(django_filters.FilterSet):
    """The Users page's search box (name or email) and filters, all GET parameters."""

    q = django_filters.CharFilter(
        label="Search",
        method="search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or email"}),
    )
    role = django_filters.ChoiceFilter(choices=Role.choices, empty_label="Any role")
    api_access = django_filters.BooleanFilter(
        label="API access",
        widget=forms.Select(choices=[("", "Any"), ("true", "Granted"), ("false", "Not granted")]),
    )
    is_active = django_filters.BooleanFilter(
        label="Active",
        widget=forms.Select(choices=[("", "Any"), ("true", "Active"), ("false", "Deactivated")]),
    )

    class Meta:
        model = User
        fields = ["q", "role", "api_access", "is_active"]

    def search(self, queryset: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        # Every word must appear in the first name, last name or email: "uma user" finds
        # Uma User, "acme.example" finds everyone at that domain.
        for word in value.split()[:5]:
            queryset = queryset.filter(
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(email__icontains=word)
            )
        return queryset
