-- Two error kinds join the vocabulary (src/model/error.rs): `no_status` (a status page adapter
-- read nothing) and `not_configured` (a source whose settings are not given).

ALTER TABLE check_results DROP CONSTRAINT check_results_error_kind_words;
ALTER TABLE check_results ADD CONSTRAINT check_results_error_kind_words CHECK ((error_kind IS NULL OR error_kind IN ('dns', 'connect', 'tls', 'timeout', 'http', 'too_large', 'redirect', 'body', 'request', 'empty', 'malformed', 'html_not_feed', 'html_not_json', 'json_not_html', 'not_text', 'not_status', 'unrecognised', 'no_status', 'not_configured', 'assertion', 'auth', 'config', 'store', 'template')));
