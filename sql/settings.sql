-- Every stored per-session default, one row per scope (as psql's \drds, with names resolved).
-- A NULL role means all roles, a NULL database all databases.
SELECT r.rolname::text AS role,
       d.datname::text AS database,
       s.setconfig
FROM pg_catalog.pg_db_role_setting AS s
LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = s.setrole
LEFT JOIN pg_catalog.pg_database AS d ON d.oid = s.setdatabase
ORDER BY 1 NULLS FIRST, 2 NULLS FIRST;
