# Production-like image: the official Airflow image plus bdcwatch and its pinned dependencies.
FROM apache/airflow:3.3.2-python3.11
# A CJK font, so the charts in the mail draw Chinese (reports/chart.py falls back to ASCII without one).
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-noto-cjk \
 && rm -rf /var/lib/apt/lists/*
USER airflow
COPY --chown=airflow:root requirements.lock pyproject.toml README.md /opt/bdcwatch/
COPY --chown=airflow:root include /opt/bdcwatch/include
# The production lock (no test or lint tools), then the package itself, not editable: the
# policy, GX suites, templates and migrations travel inside it as package data.
RUN pip install --no-cache-dir --require-hashes -r /opt/bdcwatch/requirements.lock \
 && pip install --no-cache-dir --no-deps /opt/bdcwatch
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
