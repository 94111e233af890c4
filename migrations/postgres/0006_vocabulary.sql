-- The vocabulary of every state column, guarded: each CHECK lists the words of one enum of
-- src/model (tests/vocabulary.rs compares them). And status events carry `noticed_at`: when
-- the notices stage turned them into Slack notices (events already there count as noticed).

ALTER TABLE status_events ADD COLUMN noticed_at BIGINT;
UPDATE status_events SET noticed_at = at;
CREATE INDEX status_events_unnoticed ON status_events (id) WHERE noticed_at IS NULL;

ALTER TABLE changelog_entries ADD CONSTRAINT changelog_entries_state_words CHECK (state IN ('seen', 'pending', 'queued'));
ALTER TABLE outbox ADD CONSTRAINT outbox_state_words CHECK (state IN ('pending', 'retrying', 'delivered', 'dead'));
ALTER TABLE outbox ADD CONSTRAINT outbox_sink_words CHECK (sink IN ('slack', 'jira', 'pagerduty', 'statuspage'));
ALTER TABLE status_snapshots ADD CONSTRAINT status_snapshots_indicator_words CHECK (indicator IN ('none', 'minor', 'major', 'critical', 'maintenance', 'unknown'));
ALTER TABLE status_events ADD CONSTRAINT status_events_kind_words CHECK (kind IN ('indicator', 'component', 'incident_opened', 'incident_updated', 'incident_resolved', 'maintenance_scheduled', 'maintenance_started', 'maintenance_ended'));
ALTER TABLE check_results ADD CONSTRAINT check_results_outcome_words CHECK (outcome IN ('pass', 'warn', 'fail'));
ALTER TABLE check_results ADD CONSTRAINT check_results_error_kind_words CHECK ((error_kind IS NULL OR error_kind IN ('dns', 'connect', 'tls', 'timeout', 'http', 'too_large', 'redirect', 'body', 'request', 'empty', 'malformed', 'html_not_feed', 'html_not_json', 'json_not_html', 'not_text', 'not_status', 'unrecognised', 'assertion', 'auth', 'config', 'store', 'template')));
ALTER TABLE check_state ADD CONSTRAINT check_state_state_words CHECK (state IN ('healthy', 'failing'));
ALTER TABLE check_events ADD CONSTRAINT check_events_from_state_words CHECK (from_state IN ('healthy', 'failing'));
ALTER TABLE check_events ADD CONSTRAINT check_events_to_state_words CHECK (to_state IN ('healthy', 'failing'));
ALTER TABLE incidents ADD CONSTRAINT incidents_state_words CHECK (state IN ('open', 'resolved'));
ALTER TABLE incidents ADD CONSTRAINT incidents_cause_words CHECK (cause IN ('internal', 'external'));
ALTER TABLE incidents ADD CONSTRAINT incidents_priority_words CHECK (priority IN ('P1', 'P2', 'P3', 'P4', 'P5'));
ALTER TABLE incident_history ADD CONSTRAINT incident_history_kind_words CHECK (kind IN ('opened', 'check_added', 'check_recovered', 'cause_changed', 'resolved'));
ALTER TABLE public_components ADD CONSTRAINT public_components_status_words CHECK (status IN ('operational', 'under_maintenance', 'degraded_performance', 'partial_outage', 'major_outage'));
ALTER TABLE public_incidents ADD CONSTRAINT public_incidents_status_words CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved'));
ALTER TABLE public_incidents ADD CONSTRAINT public_incidents_impact_words CHECK (impact IN ('none', 'minor', 'major', 'critical', 'maintenance', 'unknown'));
ALTER TABLE remote_ids ADD CONSTRAINT remote_ids_sink_words CHECK (sink IN ('slack', 'jira', 'pagerduty', 'statuspage'));
