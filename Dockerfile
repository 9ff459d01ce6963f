# The source-avidtrak image, built as Airbyte builds its Python connectors: on Airbyte's Python
# connector base image, which has Python 3.11 with pip in /usr/local and an `airbyte` user
# (uid 1000).
#
#   docker build -t airbyte/source-avidtrak:dev .
#   docker run --rm airbyte/source-avidtrak:dev spec
#
# BASE_IMAGE is the `connectorBuildOptions.baseImage` of metadata.yaml; keep the two equal.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73
FROM ${BASE_IMAGE}

WORKDIR /airbyte/integration_code
COPY setup.py main.py requirements.lock ./
COPY source_avidtrak ./source_avidtrak
# pip installs into the base image's own Python, so it upgrades what the base image already has
# in place, and keeps no download cache. requirements.lock, the runtime lock, pins every
# dependency of the connector (nothing of its tests or the demo) to the version CI tested
# (scripts/lock.sh regenerates it). The same step removes the source tree and pip's build
# directories, so that the installed package is the only copy of the connector in the file system
# (the COPY layers keep the ~60 kB of source). main.py stays for Airbyte's older entry point,
# `python /airbyte/integration_code/main.py`.
RUN pip install --no-cache-dir -c requirements.lock . \
    && rm -rf build setup.py requirements.lock source_avidtrak ./*.egg-info

USER airbyte

LABEL io.airbyte.name=airbyte/source-avidtrak
LABEL io.airbyte.version=0.3.0

ENV AIRBYTE_ENTRYPOINT="source-avidtrak"
ENTRYPOINT ["source-avidtrak"]
