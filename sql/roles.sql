-- Every role, with what matters for resolution and audits (columns in model.Role's order).
SELECT rolname::text AS name, rolcanlogin AS can_login, rolsuper AS superuser
FROM pg_catalog.pg_roles
ORDER BY rolname;
