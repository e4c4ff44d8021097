"""The rules part of Add API Key and Edit: a preset, or rules written one a line.

A rule is written `<domain> <level> [names=a,b] [types=TXT,A]`, where the domain is one of
the account's by name (or id), or `*` for every domain; the level is `read` or `read_write`.
What the form yields is checked by scope.clean_rules(), the one check of a rule's shape.
"""

from typing import Any

from django import forms

from accounts.models import Account, Domain
from apikeys import scope

OWNER, READ_ONLY, DNS01, CUSTOM = "owner", "read_only", "dns01", "custom"
PRESETS = [
    (OWNER, "Everything my rights allow"),
    (READ_ONLY, "Read only, all domains"),
    (DNS01, "Certificates (DNS-01): TXT records named _acme-challenge on one domain"),
    (CUSTOM, "My own rules"),
]
RULES_TEXT_LIMIT = 8000
RULES_HELP = (
    "One rule a line: a domain (or * for every domain), then read or read_write, then "
    "optionally names=… and types=…, such as “example.com read_write names=_acme-challenge "
    "types=TXT”. A name is relative to the domain: @ is the domain itself, *.dyn anything "
    "below dyn, _acme-challenge.* anything below _acme-challenge. The key never exceeds your "
    "own rights."
)


def dns01_rules(domain_id: int) -> list[scope.Rule]:
    return [
        {
            "domain": domain_id,
            "level": "read_write",
            "names": ["_acme-challenge", "_acme-challenge.*"],
            "types": ["TXT"],
        }
    ]


PRESET_RULES: dict[str, list[scope.Rule]] = {
    OWNER: [],
    READ_ONLY: [{"domain": "*", "level": "read"}],
}


def rules_text(rules: list[scope.Rule], names: dict[int, str]) -> str:
    """Rules as the form writes them, one a line."""
    lines = []
    for rule in rules:
        domain = rule["domain"]
        parts = [
            "*" if domain == "*" else names.get(domain, str(domain)),
            str(rule["level"]),
        ]
        if rule.get("names"):
            parts.append("names=" + ",".join(rule["names"]))
        if rule.get("types"):
            parts.append("types=" + ",".join(rule["types"]))
        lines.append(" ".join(parts))
    return "\n".join(lines)


def parse_rules_text(text: str, by_name: dict[str, int]) -> list[dict[str, Any]]:
    """The lines as raw rules (for scope.clean_rules); ValidationError for what is not a rule."""
    raw: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        if len(words) < 2:
            raise forms.ValidationError(
                f"Line {number}: give a domain and a level (read or read_write)."
            )
        domain_text, level, *rest = words
        domain: object = domain_text
        if domain_text != "*":
            name = domain_text.lower().rstrip(".")
            if name in by_name:
                domain = by_name[name]
            elif domain_text.isascii() and domain_text.isdigit() and len(domain_text) < 19:
                domain = int(domain_text)
        rule: dict[str, Any] = {"domain": domain, "level": level.lower()}
        for word in rest:
            field, _, values = word.partition("=")
            if field not in ("names", "types") or not values or field in rule:
                raise forms.ValidationError(
                    f"Line {number}: {word!r} is neither names=… nor types=… (each at most once)."
                )
            rule[field] = [v for v in values.split(",") if v]
        raw.append(rule)
    if not raw:
        raise forms.ValidationError("Write at least one rule, or choose a preset.")
    return raw


class ScopeRulesMixin:
    """Adds the preset, the DNS-01 domain and the rules; cleaned_data["scope_rules"] holds
    the rules to store (None when no choice was sent: leave them as they are)."""

    cleaned_data: dict[str, Any]
    fields: dict[str, forms.Field]

    def _scope_fields(self, account: Account, rules: list[scope.Rule] | None = None) -> None:
        self.domains = {d.pk: d.name for d in Domain.objects.filter(account=account).only("name")}
        self.fields["access"] = forms.ChoiceField(
            label="What the key may do",
            choices=PRESETS,
            widget=forms.RadioSelect,
            required=False,  # not sent: the rules stay as they are (none on a new key)
            initial=CUSTOM if rules else OWNER,
            error_messages={"invalid_choice": "Choose one of the presets or your own rules."},
        )
        self.fields["dns01_domain"] = forms.TypedChoiceField(
            label="Domain for certificates (DNS-01)",
            choices=[("", "—"), *sorted(self.domains.items(), key=lambda item: item[1])],
            coerce=int,
            required=False,
            error_messages={"invalid_choice": "Choose one of your account's domains."},
        )
        self.fields["rules"] = forms.CharField(
            label="Rules",
            required=False,
            max_length=RULES_TEXT_LIMIT,
            widget=forms.Textarea(attrs={"rows": 4, "cols": 60, "spellcheck": "false"}),
            help_text=RULES_HELP,
            initial=rules_text(rules or [], self.domains),
        )

    def clean_rules(self) -> str:
        access = self.cleaned_data.get("access")
        text: str = self.cleaned_data.get("rules", "")
        self.cleaned_data["scope_rules"] = None
        if access == "":
            return text
        if access in PRESET_RULES:
            raw: list[Any] = PRESET_RULES[access]
        elif access == DNS01:
            domain = self.cleaned_data.get("dns01_domain")
            if not domain:
                raise forms.ValidationError(
                    "Choose the domain the certificates are for, under the DNS-01 preset."
                )
            raw = dns01_rules(domain)
        elif access == CUSTOM:
            by_name = {name: pk for pk, name in self.domains.items()}
            raw = parse_rules_text(text, by_name)
        else:
            return text  # the preset's own error says what is wrong
        try:
            self.cleaned_data["scope_rules"] = scope.clean_rules(raw, self.domains)
        except scope.BadRule as e:
            raise forms.ValidationError(str(e)) from None
        return text
