-- In the connected database: user-defined functions and procedures (not the system's, not
-- those an extension owns), with SECURITY DEFINER and any pinned configuration.
SELECT p.oid::regprocedure::text AS signature,
       n.nspname::text AS schema,
       pg_catalog.pg_get_userbyid(p.proowner)::text AS owner,
       p.prosecdef AS security_definer,
       p.proconfig AS config
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (
      SELECT 1 FROM pg_catalog.pg_depend AS d
      WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  )
ORDER BY 1;
