"""Every setting of the platform, in one place, with its default.

Read from ``SMARTCITY_*`` environment variables or a ``.env`` file, once, at start; then passed
down. A bad value fails at start and names the variable.

Long because: every setting of every room lives here, with its default and its meaning (one
place for each fact); the fields are grouped by room.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from devices import validation_problems

__all__ = ["Settings", "SettingsInvalid", "load_settings"]


class SettingsInvalid(Exception):
    """A setting with a value the platform cannot run with; names the variable."""


class Settings(BaseSettings):
    """Platform settings. Units are in the names; secrets are ``SecretStr``."""

    model_config = SettingsConfigDict(
        env_prefix="SMARTCITY_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    # --- where things are --------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path(".smartcity"),
        description="everything the platform writes: local servers' data, spool, alert state,"
        " logs; every path setting left unset lies under it",
    )
    registry_path: Path = Field(
        default=Path("config/fleet.yaml"), description="the fleet registry the gateway reads"
    )
    mqtt_url: str | None = Field(
        default=None,
        description="mqtt://[user:pass@]host:port of an existing broker; unset starts a local one",
    )
    influx_url: str | None = Field(
        default=None,
        description="http://host:port of an existing InfluxDB; unset starts a local one",
    )
    local_mqtt_port: int = Field(
        default=1883, ge=0, le=65535, description="port of the local Mosquitto; 0 picks a free one"
    )
    local_influx_port: int = Field(
        default=8086, ge=0, le=65535, description="port of the local InfluxDB; 0 picks a free one"
    )

    # --- InfluxDB ---------------------------------------------------------------------------
    influx_api: Literal["v1", "v2"] = Field(
        default="v1", description="v1: /write + InfluxQL; v2: /api/v2/write via influxdb-client"
    )
    influx_database: str = Field(
        default="smartcity", pattern=r"^[A-Za-z0-9_]{1,64}$", description="InfluxDB 1.x database"
    )
    influx_username: str | None = Field(
        default=None, description="InfluxDB 1.x user, if authentication is on"
    )
    influx_password: SecretStr | None = Field(default=None, description="InfluxDB 1.x password")
    influx_token: SecretStr | None = Field(default=None, description="InfluxDB 2 API token (v2)")
    influx_org: str = Field(default="smartcity", description="InfluxDB 2 organisation (v2)")
    influx_bucket: str = Field(default="smartcity", description="InfluxDB 2 bucket (v2)")
    influx_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="timeout of one InfluxDB request"
    )

    # --- gateway and ingest -----------------------------------------------------------------
    gateway_client_id: str = Field(
        default="smartcity-gateway",
        min_length=1,
        max_length=64,
        description="MQTT client id; the persistent session is kept under it",
    )
    gateway_subscription: str | None = Field(
        default=None,
        description="one topic filter; unset: every device's uplink channels (never city/+/+/+/+,"
        " which would take in the platform's own alerts and commands)",
    )
    gateway_receive_max: int = Field(
        default=10_000,
        ge=1,
        le=65535,
        description="MQTT 5 Receive Maximum: unacked QoS 1 window; throughput <= window / time"
        " to durable",
    )
    gateway_session_expiry_s: int = Field(
        default=3600,
        ge=0,
        description="how long the broker keeps the gateway's session while it is away",
    )
    gateway_keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive")
    gateway_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="`smartcity gateway` processes sharing the fleet; each owns a partition of"
        " devices",
    )
    gateway_worker_index: int = Field(
        default=0,
        ge=0,
        description="which of the SMARTCITY_GATEWAY_WORKERS this `smartcity gateway` process is,"
        " from 0",
    )
    gateway_batch_max: int = Field(default=2000, ge=1, le=100_000, description="messages a batch")
    gateway_batch_age_s: float = Field(
        default=0.05, gt=0, le=10, description="a batch is stored at the latest this old"
    )
    gateway_batches_in_flight: int = Field(
        default=4, ge=1, le=64, description="batches being made durable at once"
    )
    gateway_queue_max: int = Field(
        default=20_000, ge=1, description="receive hand-off; >= receive_max never blocks paho"
    )
    gateway_unknown_devices: Literal["reject", "register"] = Field(
        default="reject", description="devices missing from the registry: dead-letter or accept"
    )
    gateway_ts_future_max_s: float = Field(
        default=300.0, ge=0, description="accepted clock skew: ts at most this far ahead"
    )
    gateway_ts_past_max_s: float = Field(
        default=7 * 86400.0, ge=0, description="ts at most this far in the past (device backlog)"
    )
    gateway_stats_interval_s: float = Field(
        default=10.0, gt=0, le=3600, description="how often gateway_stats is written to InfluxDB"
    )
    deadletter_payload_max_bytes: int = Field(
        default=1024, ge=0, le=64 * 1024, description="payload bytes kept in a dead letter"
    )
    metrics_host: str = Field(default="127.0.0.1", description="/metrics and /healthz listen here")
    metrics_port: int | None = Field(
        default=9108, ge=0, le=65535, description="0: any free port; unset: no HTTP endpoint"
    )
    payload_max_bytes: int = Field(
        default=64 * 1024,
        ge=256,
        le=256 * 1024 * 1024,
        description="larger payloads are dead-lettered (too_large)",
    )
    plate_hash_key: SecretStr = Field(
        default=SecretStr("change-me-in-production"),
        description="HMAC key for licence plates; plates are stored only as keyed hashes",
    )
    ingest_max_in_flight: int = Field(
        default=4, ge=1, le=64, description="database writes in flight at once"
    )
    ingest_gzip: bool = Field(default=False, description="gzip write bodies (CPU for bandwidth)")
    ingest_retry_initial_s: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="first wait before retrying InfluxDB / replaying the spool",
    )
    ingest_retry_max_s: float = Field(
        default=30.0, gt=0, le=3600, description="longest wait between retries"
    )
    influx_retention_policy: str | None = Field(
        default=None, description="rp= of 1.x writes; unset: the default policy (raw)"
    )
    influx_raw_retention: str = Field(
        default="30d",
        pattern=r"^(\d+[smhdw])+$",
        description="retention of raw points (policy raw)",
    )
    influx_downsampled_retention: str = Field(
        default="400d",
        pattern=r"^(\d+[smhdw])+$",
        description="retention of the 1 m / 1 h rollups (policy downsampled)",
    )
    influx_downsample_every: str = Field(
        default="1m", pattern=r"^(\d+[smhdw])+$", description="how often the rollup CQs run"
    )
    influx_downsample_for: str = Field(
        default="10m", pattern=r"^(\d+[smhdw])+$", description="how far back each CQ run reaches"
    )
    spool_dir: Path = Field(
        default_factory=lambda data: data["data_dir"] / "spool",
        description="points waiting for InfluxDB; unset: {data_dir}/spool",
    )
    spool_max_bytes: int = Field(
        default=1024**3,
        ge=1024 * 1024,
        description="spool bound; full, the gateway stops acking and the broker keeps messages",
    )
    spool_segment_max_bytes: int = Field(
        default=16 * 1024**2,
        ge=64 * 1024,
        description="spool segment size; a segment is deleted once replayed",
    )
    spool_fsync: Literal["always", "never"] = Field(
        default="always", description="always: fsync each append (survives power loss)"
    )
    shutdown_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="how long a stop may take to flush and ack"
    )

    # --- simulators -------------------------------------------------------------------------
    simulate_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="simulated seconds between two steps; each kind reports at its cadence",
    )
    simulate_seed: int = Field(
        default=42, description="seed of the simulated city; the same seed gives the same messages"
    )
    simulate_fleet_path: Path = Field(
        default=Path("config/fleets/demo.yaml"),
        description="fleet file `smartcity simulate` grows its city from",
    )
    simulate_scenarios_dir: Path = Field(
        default=Path("config/scenarios"), description="where named scenarios are found"
    )
    simulate_speed: float = Field(
        default=1.0, ge=0, le=1_000_000, description="simulated s per real s; 0: backfill"
    )
    simulate_cadence: Literal["field", "demo", "uniform"] = Field(
        default="demo",
        description="field: each kind at its real cadence; demo: real for signals and cameras, "
        "every interval for lights and water stations; uniform: every device every interval",
    )
    simulate_connections: int = Field(default=4, ge=1, le=1_000, description="pooled MQTT links")
    simulate_dedicated_max: int = Field(
        default=100, ge=0, le=5_000, description="devices with their own connection and last-will"
    )
    simulate_inflight_max: int = Field(
        default=5_000,
        ge=1,
        le=1_000_000,
        description="unacknowledged simulator messages before it waits",
    )
    simulate_client_id_prefix: str = Field(
        default="smartcity-sim",
        min_length=1,
        max_length=40,
        description="MQTT client ids of the simulator's connections",
    )
    simulate_connect_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="timeout of a simulator connection"
    )

    # --- the demo (`smartcity up --demo`, what `make up` runs) -------------------------------
    demo_fleet_path: Path = Field(
        default=Path("config/fleets/day.yaml"),
        description="the simulated city of the demo: a fleet file (counts) or a registry file",
    )
    demo_scenario: str = Field(
        default="day", min_length=1, description="scenario name or file the demo plays"
    )
    demo_speed: float = Field(
        default=60.0, gt=0, le=100_000, description="simulated s per real s of the demo's day"
    )
    demo_interval_s: float = Field(
        default=120.0, gt=0, le=3600, description="simulated s between two reports in the demo"
    )
    demo_notifications_path: Path = Field(
        default_factory=lambda data: data["data_dir"] / "notifications.jsonl",
        description="what the demo's webhook receiver and SMTP catcher received;"
        " unset: {data_dir}/notifications.jsonl",
    )
    demo_notifications_keep: int = Field(
        default=200, ge=1, le=100_000, description="notifications the demo's receivers keep"
    )

    # --- alerts -----------------------------------------------------------------------------
    rules_path: Path = Field(
        default=Path("config/rules"), description="rule file or folder of *.yaml rule files"
    )
    alerts_state_path: Path = Field(
        default_factory=lambda data: data["data_dir"] / "alerts.sqlite",
        description="SQLite file of alert state, history and acknowledgements;"
        " unset: {data_dir}/alerts.sqlite",
    )
    alerts_queue_max: int = Field(
        default=1000, ge=1, description="batches of observations waiting for the rule engine"
    )
    alerts_tick_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="how often absence, for: and windows are checked"
    )
    alerts_max_clock_skew_s: float = Field(
        default=300.0,
        ge=0,
        description="a reading whose ts is further than this ahead of its arrival is timed by"
        " arrival (readings behind it keep their own ts)",
    )
    alerts_notify_timeout_s: float = Field(
        default=5.0, gt=0, le=300, description="timeout of one alert publication or notification"
    )
    alerts_reannounce_interval_s: float = Field(
        default=60.0,
        ge=0,
        description="every firing alert is told again to every listener this often; 0: never",
    )
    alerts_listener_queue_max: int = Field(
        default=10_000, ge=1, description="alert changes waiting for one listener"
    )
    alerts_retry_min_s: float = Field(
        default=0.5,
        gt=0,
        le=300,
        description="pause before a failed listener or a lost alert broker connection is "
        "tried again; doubles each time",
    )
    alerts_retry_max_s: float = Field(
        default=30.0, gt=0, le=3600, description="the longest such pause"
    )
    alerts_watch_rules: bool = Field(
        default=True, description="reload edited rule files without a restart"
    )
    alerts_event_time: bool = Field(
        default=False,
        description="time rules by the devices' clocks (a sped-up simulation or a replay), "
        "not the wall clock",
    )
    alerts_publish_qos: Literal[0, 1, 2] = Field(
        default=1, description="QoS of alert changes on city/alerts/..."
    )
    alerts_influx_measurement: str = Field(
        default="alert",
        pattern=r"^[A-Za-z0-9_]{1,64}$",
        description="measurement alert changes are written to",
    )

    # --- the operators' API -------------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="the operators' API listens here")
    api_port: int | None = Field(
        default=8000, ge=0, le=65535, description="0: any free port; unset: no API in smartcity up"
    )
    api_tokens_file: Path = Field(
        default_factory=lambda data: data["data_dir"] / "api-tokens.json",
        description="hashed API tokens (mode 0600); unset: {data_dir}/api-tokens.json",
    )
    api_commands_path: Path = Field(
        default_factory=lambda data: data["data_dir"] / "commands.sqlite",
        description="SQLite audit of downlink commands; unset: {data_dir}/commands.sqlite",
    )
    api_command_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="a command no device answered by then timed out"
    )
    api_auth_failures_max: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="wrong tokens from one address per window, then 429",
    )
    api_auth_failure_window_s: float = Field(
        default=60.0, gt=0, le=86_400, description="the window wrong tokens are counted over"
    )
    api_mqtt_client_id: str = Field(
        default="smartcity-api",
        min_length=1,
        max_length=64,
        description="the API's MQTT client id; a persistent session keeps replies while it is away",
    )
    api_events_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="the page's live events look for changes this often"
    )
    api_stream_ticket_ttl_s: float = Field(
        default=30.0, gt=0, le=600, description="a ticket to open the page's event stream lasts"
    )
    api_alerts_from: Literal["engine", "cluster"] = Field(
        default="engine",
        description="engine: the engine's SQLite store (alerts_state_path; one engine beside "
        "the API); cluster: active alerts from Alertmanager (alertmanager_url) and history from "
        "InfluxDB (influx_url), which every gateway worker's engine sends to",
    )

    # --- incidents (emergency command) -----------------------------------------------------
    incidents_state_path: Path = Field(
        default_factory=lambda data: data["data_dir"] / "incidents.sqlite",
        description="SQLite file of incidents, their steps and timelines;"
        " unset: {data_dir}/incidents.sqlite",
    )
    incidents_rules_path: Path = Field(
        default=Path("config/incidents.yaml"),
        description="which alerts open or join incidents; waterworks intakes",
    )
    plans_path: Path = Field(
        default=Path("config/plans"), description="response plan file or folder of *.yaml plans"
    )
    incidents_tick_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=300,
        description="how often platform steps, deadlines and spill forecasts are checked",
    )
    incidents_influx_measurement: str = Field(
        default="incident",
        pattern=r"^[A-Za-z0-9_]{1,64}$",
        description="measurement incident timeline entries are written to (annotations)",
    )
    api_incidents: bool = Field(
        default=False,
        description="`smartcity api` hosts the platform's one incident service, fed with every"
        " engine's alert changes from MQTT (city/alerts/#); set it on exactly one process, never"
        " beside `smartcity up` (which runs its own)",
    )
    # --- security ---------------------------------------------------------------------------
    insecure: bool = Field(
        default=False,
        description="local broker without passwords, ACLs or TLS (anonymous, plain MQTT on"
        " loopback); the console says so",
    )
    security_dir: Path = Field(
        default_factory=lambda data: data["data_dir"] / "security",
        description="certificates, Mosquitto's password file and ACLs; unset: {data_dir}/security",
    )
    credentials_path: Path = Field(
        default_factory=lambda data: data["security_dir"] / "credentials.json",
        description="device and service passwords, mode 0600;"
        " unset: {security_dir}/credentials.json",
    )
    local_mqtts_port: int = Field(
        default=8883, ge=0, le=65535, description="TLS port of the secured local Mosquitto; 0: free"
    )
    mqtt_tls_ca: Path | None = Field(
        default=None,
        description="CA to trust for mqtts://; unset: the local CA if there is one,"
        " else the system's",
    )
    mqtt_tls_cert: Path | None = Field(
        default=None, description="client certificate for mqtts://; unset: the local client one"
    )
    mqtt_tls_key: Path | None = Field(default=None, description="its private key")
    mqtt_tls_verify: bool = Field(
        default=True, description="check the broker's certificate and host name (keep it on)"
    )
    certs_hosts: str = Field(
        default="localhost,127.0.0.1,::1,mosquitto",
        description="host names and addresses the server certificate is valid for, comma-separated",
    )
    certs_valid_days: int = Field(
        default=825, ge=1, le=3650, description="how long certificates made by smartcity certs last"
    )
    gateway_publisher_property: str | None = Field(
        default=None,
        description="MQTT 5 user property a broker stamps with the publisher's client id or user;"
        " set, the topic's device must match it (Mosquitto cannot: leave unset)",
    )
    api_tls_cert: Path | None = Field(
        default=None, description="certificate the operators' API serves HTTPS with"
    )
    api_tls_key: Path | None = Field(default=None, description="its private key")

    # --- notifications (Alertmanager) --------------------------------------------------------
    alertmanager_url: str | None = Field(
        default=None,
        description="http://host:port of an Alertmanager, or a comma-separated list (a cluster);"
        " unset starts a local one",
    )
    local_alertmanager_port: int = Field(
        default=9093,
        ge=0,
        le=65535,
        description="port of the local Alertmanager; taken or 0: a free one",
    )
    alertmanager_config_path: Path = Field(
        default=Path("config/alertmanager.yml"),
        description="Alertmanager config the local one runs (templates beside it)",
    )
    alertmanager_smtp_smarthost: str | None = Field(
        default=None,
        pattern=r"^[^:\s]+:\d{1,5}$",
        description="host:port of the SMTP server the local Alertmanager sends mail through;"
        " unset: as the config says",
    )
    alertmanager_webhook_url: str | None = Field(
        default=None,
        description="where every webhook receiver of the local Alertmanager posts, without a"
        " token; unset: the API's /hooks/alertmanager with its own token",
    )
    alertmanager_resend_interval_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="firing alerts are re-sent this often; Alertmanager resolves them after 4x",
    )
    alertmanager_queue_max: int = Field(
        default=10_000, ge=1, description="alerts waiting per Alertmanager; full drops the oldest"
    )
    alertmanager_batch_max: int = Field(
        default=256, ge=1, le=10_000, description="alerts in one POST /api/v2/alerts"
    )
    alertmanager_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="timeout of one request to Alertmanager"
    )
    alertmanager_retry_initial_s: float = Field(
        default=0.5, gt=0, le=60, description="first wait before re-trying an Alertmanager"
    )
    alertmanager_retry_max_s: float = Field(
        default=30.0, gt=0, le=3600, description="longest wait between tries of an Alertmanager"
    )
    alerts_ack_silence_max_s: float = Field(
        default=7 * 86400.0,
        gt=0,
        description="an acknowledgement's silence ends when its alert resolves, or after this",
    )
    relay_config_path: Path = Field(
        default=Path("config/relay.yaml"),
        description="the relay's subscribers: receivers forwarded to MQTT topics and apprise URLs",
    )
    relay_state_path: Path = Field(
        default_factory=lambda data: data["data_dir"] / "relay.sqlite",
        description="what the relay delivered, so a retried webhook sends nothing twice;"
        " unset: {data_dir}/relay.sqlite",
    )
    relay_dedup_window_s: float = Field(
        default=1800.0,
        gt=0,
        description="how long a delivery is remembered; keep it under the repeat_interval",
    )

    # --- dashboards -------------------------------------------------------------------------
    grafana_url: str = Field(
        default="http://127.0.0.1:3000",
        description="Grafana that `smartcity dashboards push` sends to",
    )
    grafana_token: SecretStr | None = Field(
        default=None, description="Grafana service-account token for `dashboards push`"
    )
    grafana_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="timeout of one request to Grafana's API"
    )

    # --- logging ----------------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="DEBUG, INFO, WARNING or ERROR"
    )
    log_file: Path = Field(
        default_factory=lambda data: data["data_dir"] / "smartcity.log",
        description="JSON log lines of `smartcity up` / `gateway`; unset: {data_dir}/smartcity.log",
    )

    @field_validator("gateway_worker_index")
    @classmethod
    def _check_worker_index(cls, value: int, info: ValidationInfo) -> int:
        workers = info.data.get("gateway_workers")
        if workers is not None and value >= workers:
            raise ValueError(f"must be below SMARTCITY_GATEWAY_WORKERS ({workers})")
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("mqtt://", "mqtts://", "tcp://")):
            raise ValueError("must start with mqtt://, mqtts:// or tcp://")
        return value

    @field_validator("alertmanager_url")
    @classmethod
    def _check_alertmanager_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        urls = [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        if not urls:
            raise ValueError("give one URL or a comma-separated list")
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"{url!r} must start with http:// or https://")
        return ",".join(urls)

    @property
    def alertmanager_urls(self) -> tuple[str, ...]:
        """The configured Alertmanagers (a cluster's members); empty when unset."""
        return tuple(self.alertmanager_url.split(",")) if self.alertmanager_url else ()

    @field_validator("influx_url")
    @classmethod
    def _check_influx_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/") if value else value


def load_settings(**overrides: object) -> Settings:
    """Load settings from the environment and ``.env``; a bad value names its variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for problem in validation_problems(exc):
            if problem.kind == "default_factory_not_called":
                continue  # a path under a data_dir that is itself invalid, and named above
            name = "SMARTCITY_" + "_".join(str(part) for part in problem.location).upper()
            secret = any(word in name for word in ("KEY", "PASSWORD", "TOKEN"))
            shown = "(hidden)" if secret else repr(problem.value)
            problems.append(f"{name}={shown}: {problem.message}")
        raise SettingsInvalid("invalid settings:\n  " + "\n  ".join(problems)) from None
