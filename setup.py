"""Packaging for source-avidtrak: `pip install .` gives the `source-avidtrak` command."""

from setuptools import find_packages, setup

MAIN_REQUIREMENTS = [
    "airbyte-cdk>=7.39,<8",
    "requests>=2.31,<3",
    "python-dateutil>=2.8,<3",
]

TEST_REQUIREMENTS = [
    "pytest>=8,<9",
    "pytest-timeout>=2.3,<3",
    "requests-mock>=1.12,<2",
    "hypothesis>=6.100,<7",
]

setup(
    name="source-avidtrak",
    version="0.1.0",
    description="Airbyte source connector for AvidTrak call-tracking reports.",
    author="source-avidtrak maintainers",
    packages=find_packages(include=["source_avidtrak", "source_avidtrak.*"]),
    python_requires=">=3.10,<3.14",
    install_requires=MAIN_REQUIREMENTS,
    extras_require={"tests": TEST_REQUIREMENTS},
    package_data={"source_avidtrak": ["spec.yaml", "schemas/*.json"]},
    entry_points={"console_scripts": ["source-avidtrak=source_avidtrak.run:run"]},
)
