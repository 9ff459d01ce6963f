"""The manual, the migration guide and the README follow Airbyte's documentation conventions.

The manual's headings are checked with the rule of Airbyte's connector QA ("documentation
headers structure, naming and order follow our guidelines"): the template's headings in
order, some of them optional, and headings of the connector's own only where the template
leaves room for them. The breaking change in metadata.yaml needs a migration guide section
and a changelog row. The README is the local-development entry point: commands first, the
manual linked, no copy of the manual's tables, one image tag for every `docker run`.
"""

from __future__ import annotations

import re
import shlex
from datetime import date
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

from source_avidtrak import SourceAvidtrak

ROOT = Path(__file__).resolve().parent.parent
MANUAL = ROOT / "docs" / "integrations" / "sources" / "avidtrak.md"
MIGRATIONS = ROOT / "docs" / "integrations" / "sources" / "avidtrak-migrations.md"
README = ROOT / "README.md"
NAME = "AvidTrak"  # metadata.yaml's `name`

# Airbyte's connector documentation template (connectors_qa's template.md.j2), heading by heading.
ANY = "{ Connector-specific features }"  # where headings of the connector's own may stand
TEMPLATE = [
    NAME,
    "Prerequisites",
    "Setup guide",
    f"Set up {NAME}",
    "For Airbyte Cloud:",
    "For Airbyte Open Source:",
    ANY,
    f"Set up the {NAME} connector in Airbyte",
    "For Airbyte Cloud:",
    "For Airbyte Open Source:",
    ANY,
    "Supported sync modes",
    "Supported Streams",
    ANY,
    "Performance considerations",
    "Data type map",
    "Limitations & Troubleshooting",
    ANY,
    "Tutorials",
    "Changelog",
]
OPTIONAL_IN_AIRBYTE = {
    f"Set up the {NAME} connector in Airbyte",
    "For Airbyte Cloud:",
    "For Airbyte Open Source:",
    ANY,
    "Performance considerations",
    "Data type map",
    "Limitations & Troubleshooting",
    "Tutorials",
}
# This manual has every section of the template's order that issue 19 asks for.
REQUIRED_HERE = [
    "Prerequisites",
    "Setup guide",
    "Supported sync modes",
    "Supported Streams",
    "Performance considerations",
    "Data type map",
    "Limitations & Troubleshooting",
    "Changelog",
]
IMAGE_REFERENCE = re.compile(r"[a-z0-9][a-z0-9._-]*(/[a-z0-9._-]+)*:[A-Za-z0-9._-]+")
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)
COMMENT = re.compile(r"<!--.*?-->", re.S)
HEADING = re.compile(r"^(#{1,4}) +(.+?) *#*$", re.M)


def headings(markdown: str) -> List[str]:
    """Headings of levels 1 to 4, outside code fences and HTML comments, in order."""
    return [match.group(2) for match in HEADING.finditer(FENCE.sub("", COMMENT.sub("", markdown)))]


def sections(markdown: str) -> Dict[str, str]:
    """Heading -> the text up to the next heading (of any level)."""
    text = FENCE.sub(lambda fence: fence.group(0).replace("#", "\\#"), COMMENT.sub("", markdown))
    matches = list(HEADING.finditer(text))
    return {
        match.group(2): text[match.end() : matches[i + 1].start() if i + 1 < len(matches) else len(text)]
        for i, match in enumerate(matches)
    }


def template_order_errors(actual: List[str]) -> List[str]:
    """connectors_qa's CheckDocumentationHeadersOrder, on a list of headings."""
    a = e = 0
    while a < len(actual) and e < len(TEMPLATE):
        heading, expected = actual[a], TEMPLATE[e]
        if expected == ANY:
            if heading in TEMPLATE:
                e += 1
            else:
                a += 1
        elif heading == expected:
            a, e = a + 1, e + 1
        elif expected in OPTIONAL_IN_AIRBYTE:
            e += 1
        else:
            return [f"heading {heading!r} is out of place or misnamed: the template expects {expected!r} here"]
    missing = [heading for heading in TEMPLATE[e:] if heading not in OPTIONAL_IN_AIRBYTE]
    return [f"required headings missing at the end: {missing}"] if missing else []


@pytest.fixture(scope="module")
def manual() -> str:
    return MANUAL.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def metadata() -> Dict:
    return yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]


def test_given_the_manual_when_its_headings_are_checked_then_they_follow_airbytes_template(manual):
    found = headings(manual)

    assert template_order_errors(found) == []
    present = [heading for heading in found if heading in REQUIRED_HERE]
    assert present == REQUIRED_HERE, "each section once, in the template's order"


def test_given_a_heading_out_of_place_when_checked_then_the_rule_names_it():
    moved = ["AvidTrak", "Prerequisites", "Setup guide", "Set up AvidTrak", "Supported Streams", "Supported sync modes"]

    assert template_order_errors(moved) == [
        "heading 'Supported Streams' is out of place or misnamed: the template expects 'Supported sync modes' here"
    ]
    assert template_order_errors(["AvidTrak", "Prerequisites"]) == [
        "required headings missing at the end: ['Setup guide', 'Set up AvidTrak', 'Supported sync modes', "
        "'Supported Streams', 'Changelog']"
    ]


def test_given_the_manual_when_its_template_sentences_are_checked_then_they_open_their_sections(manual):
    text = sections(manual)

    assert f"reference information for the [{NAME}](https://avidtrak.com) source connector." in text[NAME]
    assert (
        text["Supported sync modes"]
        .lstrip()
        .startswith(
            f"The {NAME} source connector supports the following "
            "[sync modes](https://docs.airbyte.com/cloud/core-concepts/#connection-sync-modes):"
        )
    )
    assert text["Changelog"].lstrip().startswith("<details>\n  <summary>Expand to review</summary>")


def test_given_the_spec_when_the_prerequisites_are_read_then_every_required_field_is_named(manual):
    spec = SourceAvidtrak().spec(logger=None).connectionSpecification  # type: ignore[arg-type]
    prerequisites = sections(manual)["Prerequisites"].lower()

    titles = [spec["properties"][key]["title"] for key in spec["required"]]
    assert [title for title in titles if title.lower() not in prerequisites] == []


def test_given_agency_accounts_when_the_prerequisites_are_read_then_one_source_lists_the_clients(manual):
    prerequisites = " ".join(sections(manual)["Prerequisites"].split())

    assert "in **one** source" in prerequisites and "under **Client Accounts**" in prerequisites
    assert "one source per client" not in prerequisites.lower() and "source per client" not in prerequisites.lower()


def test_given_the_version_when_the_changelog_is_read_then_it_has_a_row(manual, metadata):
    rows = [line for line in sections(manual)["Changelog"].splitlines() if line.startswith("| ")]

    assert any(row.split("|")[1].strip() == metadata["dockerImageTag"] for row in rows)


def test_given_breaking_changes_when_the_migration_guide_is_read_then_a_section_per_version_newest_first(metadata):
    guide = MIGRATIONS.read_text(encoding="utf-8")
    versions = sorted(metadata["releases"]["breakingChanges"], key=lambda v: tuple(map(int, v.split("."))))

    assert guide.splitlines()[0] == f"# {NAME} Migration Guide"
    upgrading = [
        heading.removeprefix("Upgrading to ") for heading in headings(guide) if heading.startswith("Upgrading")
    ]
    assert upgrading == versions[::-1]


def test_given_breaking_changes_when_read_then_each_has_a_message_a_deadline_and_streams_that_exist(manual, metadata):
    changelog = sections(manual)["Changelog"]
    streams = {stream.name for stream in SourceAvidtrak().streams(_any_valid_config())}

    for version, change in metadata["releases"]["breakingChanges"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version)
        assert set(change) <= {"message", "upgradeDeadline", "scopedImpact", "migrationDocumentationUrl"}
        assert "migrations" in change["message"], "the message links the migration guide"
        released = re.search(rf"^\| {re.escape(version)} \| (\d{{4}}-\d{{2}}-\d{{2}}) \|", changelog, re.M)
        assert released, f"no changelog row for {version}"
        days = (date.fromisoformat(change["upgradeDeadline"]) - date.fromisoformat(released.group(1))).days
        assert days >= 7, "Airbyte asks at least 7 days between a source's breaking release and its deadline"
        for scope in change.get("scopedImpact", []):
            assert scope["scopeType"] == "stream" and set(scope["impactedScopes"]) <= streams


def _any_valid_config() -> Dict:
    return {"pin_code": "doc-test-pin", "base_url": "https://avidtrak.com"}


# The README


def test_given_the_readme_when_read_then_commands_come_first_and_the_manual_is_linked():
    readme = README.read_text(encoding="utf-8")
    second_level = [match.group(2) for match in HEADING.finditer(FENCE.sub("", readme)) if match.group(1) == "##"]

    assert second_level[0] == "Commands"
    assert "(docs/integrations/sources/avidtrak.md)" in readme.split("## Commands")[0]


def test_given_the_readme_when_read_then_it_copies_no_table_of_the_manual():
    readme = README.read_text(encoding="utf-8")
    table_rows = [line for line in readme.splitlines() if line.startswith("|")]

    assert table_rows == [], "settings, errors and limits are stated once, in the manual"


def test_given_the_readme_when_its_docker_commands_are_read_then_every_run_uses_the_tag_the_builds_make():
    readme = README.read_text(encoding="utf-8")
    built = set(re.findall(r"docker build -t (\S+)", readme))
    ci_build = re.search(r"^IMAGE=\$\{AVIDTRAK_IMAGE:-(\S+)\}$", (ROOT / ".ci" / "docker.sh").read_text(), re.M)
    commands = re.sub(r"\\\n\s*", " ", readme).splitlines()  # continued lines joined
    runs = [shlex.split(line.split("#")[0]) for line in commands if line.startswith("docker run ")]
    used = {token for run in runs for token in run if IMAGE_REFERENCE.fullmatch(token)}

    assert ci_build is not None and len(runs) >= 4
    assert built == {ci_build.group(1)} == used, (
        "one image tag: what `docker build` and .ci/docker.sh tag, every run uses"
    )
