-- Every database, its owner, and whether it accepts connections at all (columns in
-- model.Database's order).
SELECT datname::text AS name, datallowconn AS allow_connections, datistemplate AS is_template,
       pg_catalog.pg_get_userbyid(datdba)::text AS owner
FROM pg_catalog.pg_database
ORDER BY datname;
