-- In the connected database: for each role, the schemas its path names (and the schema named
-- after the role, which "$user" stands for) that exist, with USAGE and CREATE for that role.
SELECT r.rolname::text AS role,
       n.nspname::text AS schema,
       has_schema_privilege(r.oid, n.oid, 'USAGE') AS usage,
       has_schema_privilege(r.oid, n.oid, 'CREATE') AS "create"
FROM pg_catalog.pg_roles AS r
JOIN pg_catalog.pg_namespace AS n
  ON n.nspname = ANY (%(schemas)s::text[]) OR n.nspname = r.rolname
WHERE r.rolname = ANY (%(roles)s::text[]);
