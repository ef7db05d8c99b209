"""The user documentation: every docs-* quality-scale rule marked done has its page, linked
from the README."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
RULES = yaml.safe_load(
    (ROOT / "custom_components" / "microhome" / "quality_scale.yaml").read_text()
)["rules"]


def status(rule: object) -> str:
    return rule if isinstance(rule, str) else rule["status"]


def test_no_rule_is_left_todo() -> None:
    assert [name for name, rule in RULES.items() if status(rule) == "todo"] == []


def test_every_done_docs_rule_names_a_page_linked_from_the_readme() -> None:
    docs_rules = {name: rule for name, rule in RULES.items() if name.startswith("docs-")}
    assert len(docs_rules) >= 10
    for name, rule in docs_rules.items():
        assert status(rule) == "done", name
        pages = re.findall(r"docs/[a-z-]+\.md", rule["comment"])
        if not pages:  # a README section
            assert rule["comment"].startswith("README: "), name
            continue
        for page in pages:
            assert (ROOT / page).is_file(), f"{name}: {page}"
            assert f"]({page})" in README, f"{name}: README does not link {page}"


def test_every_page_linked_from_the_readme_exists() -> None:
    for page in re.findall(r"\]\((docs/[^)#]+)\)", README):
        assert (ROOT / page).is_file(), page


def test_links_between_pages_resolve() -> None:
    for page in (ROOT / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([a-z-]+\.md)\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links {target}"
