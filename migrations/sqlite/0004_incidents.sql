-- Triage and incidents. Times are Unix epoch milliseconds.

-- Our incidents: one open incident per partner groups every failing check of that partner.
-- cause: internal | external; state: open | resolved; generation counts cause changes (keys
-- of the actions of each change); paged / published: a page / our status page incident is open.
CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id   TEXT    NOT NULL,
    state        TEXT    NOT NULL,
    cause        TEXT    NOT NULL,
    cause_reason TEXT    NOT NULL,
    priority     TEXT    NOT NULL,
    dedup_key    TEXT    NOT NULL,
    paged        BIGINT  NOT NULL DEFAULT 0,
    published    BIGINT  NOT NULL DEFAULT 0,
    generation   BIGINT  NOT NULL DEFAULT 0,
    opened_at    BIGINT  NOT NULL,
    resolved_at  BIGINT
);
CREATE INDEX incidents_partner_state ON incidents (partner_id, state);

-- The checks of an incident; failing = 0 once a check recovered.
CREATE TABLE incident_checks (
    incident_id BIGINT NOT NULL,
    check_id    TEXT   NOT NULL,
    failing     BIGINT NOT NULL,
    since       BIGINT NOT NULL,
    PRIMARY KEY (incident_id, check_id)
);

-- What happened to an incident: opened, check_added, check_recovered, cause_changed, resolved.
CREATE TABLE incident_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id BIGINT  NOT NULL,
    at          BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    detail      TEXT    NOT NULL
);
CREATE INDEX incident_history_incident ON incident_history (incident_id, id);

-- Ids the sinks gave our effects (Jira issue key, Statuspage incident id, Slack ts), by sink
-- and our own key (e.g. jira / incident:42), looked up before creating anything again.
CREATE TABLE remote_ids (
    sink      TEXT   NOT NULL,
    local_key TEXT   NOT NULL,
    remote_id TEXT   NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (sink, local_key)
);

-- The built-in public status page (used when no Atlassian Statuspage key is set): one
-- component per partner, and our incidents as customers see them.
CREATE TABLE public_components (
    partner_id TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL,
    status     TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE public_incidents (
    local_key   TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL,
    status      TEXT   NOT NULL,
    impact      TEXT   NOT NULL,
    components  TEXT   NOT NULL,
    updates     TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    resolved_at BIGINT
);

-- Sparky's own egress (the connectivity check): one row, the alert's state.
CREATE TABLE egress (
    id         BIGINT PRIMARY KEY,
    down       BIGINT NOT NULL,
    since      BIGINT NOT NULL,
    checked_at BIGINT NOT NULL
);
