"""``{{variable}}`` templating for welcome messages and prompts."""

from __future__ import annotations

import time
from types import MappingProxyType

import pytest

from callwright.engine.templating import render_template, template_variables


def test_simple_variable() -> None:
    assert render_template("Hello {{name}}", {"name": "Ada"}) == "Hello Ada"


def test_whitespace_inside_braces() -> None:
    assert render_template("Hello {{  name }}!", {"name": "Ada"}) == "Hello Ada!"


def test_dotted_path_into_nested_mappings() -> None:
    variables = {"customer": {"name": "Ada", "address": {"city": "Paris"}}}
    template = "{{customer.name}} from {{ customer.address.city }}"
    assert render_template(template, variables) == "Ada from Paris"


def test_flat_key_containing_a_dot() -> None:
    assert render_template("{{customer.name}}", {"customer.name": "Ada"}) == "Ada"


def test_values_are_converted_with_str() -> None:
    variables = {"count": 3, "price": 9.5, "vip": True}
    assert render_template("{{count}} {{price}} {{vip}}", variables) == "3 9.5 True"


def test_none_renders_as_empty() -> None:
    assert render_template("[{{name}}]", {"name": None}) == "[]"


def test_unknown_variable_renders_as_empty_by_default() -> None:
    assert render_template("Hello {{name}}, welcome.", {}) == "Hello , welcome."


def test_missing_keep_leaves_the_placeholder() -> None:
    template = "Hello {{ name }} from {{city}}"
    assert (
        render_template(template, {"city": "Rome"}, missing="keep") == "Hello {{ name }} from Rome"
    )


def test_path_through_a_non_mapping_is_missing() -> None:
    assert render_template("[{{name.first}}]", {"name": "Ada"}) == "[]"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('Hello {{name | default: "there"}}', "Hello there"),
        ("Hello {{ name|default:'there' }}", "Hello there"),
        ("{{ count | default: 0 }} items", "0 items"),
        ('[{{ name | default: "" }}]', "[]"),
    ],
)
def test_default_filter_when_missing(template: str, expected: str) -> None:
    assert render_template(template, {}) == expected


@pytest.mark.parametrize("blank", [None, False, "", [], {}])
def test_default_filter_applies_to_blank_values_like_liquid(blank: object) -> None:
    assert render_template('{{name | default: "there"}}', {"name": blank}) == "there"


def test_default_filter_keeps_a_present_value() -> None:
    assert render_template('{{name | default: "there"}}', {"name": "Ada"}) == "Ada"
    assert render_template('{{n | default: "none"}}', {"n": 0}) == "0"


def test_default_filter_wins_over_missing_keep() -> None:
    template = 'Hi {{name | default: "there"}}'
    assert render_template(template, {}, missing="keep") == "Hi there"


@pytest.mark.parametrize(
    "template",
    [
        "{{ name | upcase }}",
        "{{ __import__('os').system('id') }}",
        "{{ name.__class__ }}x",
        "{{ 1 + 1 }}",
        "{{ name[0] }}",
    ],
)
def test_unsupported_expressions_are_never_evaluated(template: str) -> None:
    variables = {"name": "Ada"}
    assert "{{" not in render_template(template, variables)
    assert "Ada" not in render_template(template, variables)
    assert render_template(template, variables, missing="keep") == template


def test_no_attribute_access_on_objects() -> None:
    class Customer:
        name = "Ada"

    assert render_template("[{{customer.name}}]", {"customer": Customer()}) == "[]"


def test_any_mapping_works_not_only_dict() -> None:
    customer = MappingProxyType({"name": "Ada"})
    assert render_template("{{customer.name}}", MappingProxyType({"customer": customer})) == "Ada"


def test_text_without_placeholders_is_unchanged() -> None:
    text = "Braces { alone } and {single} and }} stay."
    assert render_template(text, {"single": "x"}) == text


def test_many_unclosed_braces_render_quickly() -> None:
    template = "{{" * 50_000
    started = time.perf_counter()
    assert render_template(template, {}) == template
    assert time.perf_counter() - started < 1.0


def test_template_variables_lists_names_and_paths() -> None:
    template = 'Hi {{ name | default: "there" }}, {{customer.city}} {{name}} {{ 1 + 1 }}'
    assert template_variables(template) == {"name", "customer.city"}


def test_template_variables_of_plain_text_is_empty() -> None:
    assert template_variables("Hello there") == set()
