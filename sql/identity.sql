-- Which cluster this is: the system identifier initdb chose, the same on every database
-- and on physical replicas, different for any other cluster.
SELECT system_identifier::text AS system_identifier,
       current_setting('server_version_num')::int AS server_version
FROM pg_catalog.pg_control_system();
