# A stand-in for docker.io/airbyte/python-connector-base, for machines that cannot pull it (CI):
# Debian bookworm's Python 3.11, from a root file system that `.ci/docker.sh base` makes with
# debootstrap and imports as ROOTFS_IMAGE. It gives the connector's Dockerfile what the real base
# image gives it: a current `python` and `pip` in /usr/local/bin that install under /usr/local
# (Debian's pip 23.0 would still fall back to `setup.py install`), and an `airbyte` user with
# uid 1000. Its CA bundle is the build machine's, so pip in the connector's build reaches PyPI
# the way that machine does.
ARG ROOTFS_IMAGE=avidtrak-ci/debian-python-rootfs:bookworm
FROM ${ROOTFS_IMAGE}

RUN python3 -m venv --upgrade-deps /usr/local \
    && useradd --uid 1000 --user-group --create-home --shell /bin/bash airbyte

ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8
CMD ["python"]
