"""Packaging for source-avidtrak: `pip install .` gives the `source-avidtrak` command.

The ranges here are for library users. The image, CI and the scripts install the exact
versions in requirements.lock (regenerate it with `scripts/lock.sh`).
"""

from setuptools import find_packages, setup

MAIN_REQUIREMENTS = [
    "airbyte-cdk>=7.39,<8",
    "requests>=2.31,<3",
]

TEST_REQUIREMENTS = [
    "pytest>=8,<9",
    "pytest-timeout>=2.3,<3",
    "requests-mock>=1.12,<2",
    "hypothesis>=6.100,<7",
]

DEV_REQUIREMENTS = [
    "ruff>=0.17,<0.18",
    "mypy>=2.4,<3",
    "types-requests>=2.31,<3",
    "types-PyYAML>=6,<7",
    "pip-tools>=7.6,<8",
]

# The demo's local client (scripts/demo.sh); PyAirbyte's own pins decide what resolves with it.
DEMO_REQUIREMENTS = ["airbyte==0.71.3"]

setup(
    name="source-avidtrak",
    version="0.2.0",
    description="Airbyte source connector for AvidTrak call-tracking reports.",
    author="source-avidtrak maintainers",
    packages=find_packages(include=["source_avidtrak", "source_avidtrak.*"]),
    python_requires=">=3.11,<3.14",
    install_requires=MAIN_REQUIREMENTS,
    extras_require={"tests": TEST_REQUIREMENTS, "dev": DEV_REQUIREMENTS, "demo": DEMO_REQUIREMENTS},
    package_data={"source_avidtrak": ["spec.yaml", "schemas/*.json"]},
    entry_points={"console_scripts": ["source-avidtrak=source_avidtrak.run:run"]},
)
