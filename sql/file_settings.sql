-- The search_path the configuration files give the server (postgresql.conf, ALTER SYSTEM).
-- Readable only by superusers and members of pg_read_all_settings.
SELECT setting, sourcefile, sourceline
FROM pg_catalog.pg_file_settings
WHERE name = 'search_path' AND applied AND error IS NULL
ORDER BY seqno DESC
LIMIT 1;
