-- In the connected database: every schema, its owner, and who holds CREATE on it
-- (a NULL grantee is PUBLIC). The owner can always create.
SELECT n.nspname::text AS schema,
       pg_catalog.pg_get_userbyid(n.nspowner)::text AS owner,
       coalesce(array_agg(CASE WHEN a.grantee = 0 THEN NULL
                               ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END)
                FILTER (WHERE a.privilege_type = 'CREATE'), '{}') AS creators
FROM pg_catalog.pg_namespace AS n
LEFT JOIN LATERAL pg_catalog.aclexplode(coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner)))
     AS a ON true
WHERE n.nspname !~ '^pg_(toast|temp_)'
GROUP BY n.nspname, n.nspowner;
