-- The current connection: its search_path, where it came from, and what it resolves to.
SELECT current_user::text AS "user",
       session_user::text AS session_user,
       current_database()::text AS database,
       current_setting('search_path') AS raw,
       s.source,
       s.boot_val,
       s.reset_val,
       current_schemas(true)::text[] AS effective,
       current_schemas(false)::text[] AS effective_explicit,
       current_setting('server_version_num')::int AS server_version,
       has_table_privilege('pg_catalog.pg_file_settings', 'SELECT')
         AND has_function_privilege('pg_catalog.pg_show_all_file_settings()', 'EXECUTE')
         AS can_read_file_settings,
       nullif(pg_my_temp_schema(), 0)::regnamespace::text AS temp_schema
FROM pg_catalog.pg_settings AS s
WHERE s.name = 'search_path';
