-- Every database, and whether it accepts connections at all.
SELECT datname::text AS name, datallowconn AS allow_connections, datistemplate AS is_template
FROM pg_catalog.pg_database
ORDER BY datname;
