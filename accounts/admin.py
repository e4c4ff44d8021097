from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.models import Account, Domain, User


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "created", "max_key_months", "allow_never_expires"]
    search_fields = ["name"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "account", "role", "api_access", "is_active"]
    list_filter = ["account", "role", "api_access", "is_active", "is_staff"]
    search_fields = ["email", "first_name", "last_name"]
    list_select_related = ["account"]
    fieldsets = [
        (None, {"fields": ["account", "email", "password"]}),
        ("Profile", {"fields": ["first_name", "last_name", "phone", "time_zone"]}),
        ("Access", {"fields": ["role", "api_access", "is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": [
            "account", "email", "first_name", "last_name", "role", "password1", "password2"]}),
    ]
    readonly_fields = ["last_login", "date_joined"]


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["name", "account", "status"]
    list_filter = ["account", "status"]
    search_fields = ["name"]
