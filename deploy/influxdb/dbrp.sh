#!/bin/bash
# Run once by the influxdb image after its first setup (/docker-entrypoint-initdb.d): the rollup
# bucket and the DBRP mappings that let InfluxQL (the Grafana dashboards) read the 2.x buckets.
# Database SMARTCITY_INFLUX_DATABASE; retention policy "raw" is the bucket itself and
# "downsampled" the rollup bucket: the policy names ingest's bootstrap gives them on 1.x, so
# the same dashboards run on both.
set -euo pipefail
org="$DOCKER_INFLUXDB_INIT_ORG"
token="$DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"
database="${SMARTCITY_INFLUX_DATABASE:-smartcity}"
bucket="$DOCKER_INFLUXDB_INIT_BUCKET"
downsampled="${bucket}_downsampled"

bucket_id() {
  influx bucket list --token "$token" --org "$org" --name "$1" --hide-headers | cut -f1
}

influx bucket create --token "$token" --org "$org" --name "$downsampled" --retention 400d
influx v1 dbrp create --token "$token" --org "$org" --db "$database" --rp raw \
  --bucket-id "$(bucket_id "$bucket")" --default
influx v1 dbrp create --token "$token" --org "$org" --db "$database" --rp downsampled \
  --bucket-id "$(bucket_id "$downsampled")"
