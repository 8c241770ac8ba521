-- The name of every role ('role') and database ('database'): what a diff checks a policy's
-- names against.
SELECT 'role' AS kind, rolname::text AS name FROM pg_catalog.pg_roles
UNION ALL
SELECT 'database', datname::text FROM pg_catalog.pg_database;
