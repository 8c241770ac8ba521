-- In the connected database: the schemas holding a table, view or foreign table of each
-- name asked for (what an unqualified name can resolve to).
SELECT n.nspname::text AS schema, c.relname::text AS name
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relname = ANY (%(names)s::text[])
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f');
