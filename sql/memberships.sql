-- Every role each role is a member of, directly or through other roles.
WITH RECURSIVE m(member, roleid) AS (
    SELECT member, roleid FROM pg_catalog.pg_auth_members
    UNION
    SELECT m.member, a.roleid
    FROM m JOIN pg_catalog.pg_auth_members AS a ON a.member = m.roleid
)
SELECT r.rolname::text AS member, g.rolname::text AS role
FROM m
JOIN pg_catalog.pg_roles AS r ON r.oid = m.member
JOIN pg_catalog.pg_roles AS g ON g.oid = m.roleid;
