# The smartcity platform image: the locked Python environment and the `smartcity` command.
FROM python:3.11-slim-bookworm
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY devices devices
COPY simulators simulators
COPY gateway gateway
COPY ingest ingest
COPY alerts alerts
COPY command command
COPY dashboards dashboards
COPY api api
COPY smartcity smartcity
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e .
# named volumes mounted here start with these owners: the platform runs as nobody
RUN mkdir -p /var/lib/smartcity /var/lib/smartcity-grafana \
    && chown nobody /var/lib/smartcity /var/lib/smartcity-grafana
USER nobody
ENTRYPOINT []
CMD ["smartcity", "--help"]
