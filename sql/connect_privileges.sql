-- Which login roles hold CONNECT on which databases (pg_hba.conf may still refuse them).
SELECT d.datname::text AS database, r.rolname::text AS role
FROM pg_catalog.pg_database AS d
CROSS JOIN pg_catalog.pg_roles AS r
WHERE d.datallowconn
  AND r.rolcanlogin
  AND has_database_privilege(r.oid, d.oid, 'CONNECT')
ORDER BY 1, 2;
