-- How long to wait for the writers' lock, for this transaction only.
SELECT set_config('lock_timeout', %(timeout)s, true);
