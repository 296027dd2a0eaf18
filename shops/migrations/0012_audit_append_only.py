"""The audit log is append-only in the database itself: a trigger refuses every UPDATE and
DELETE of its rows, whoever sends them (the ORM, the admin, a psql session of the app's role).

The only way past it is a maintenance session that sets ``ordersync.audit_maintenance = on``
(the test suite's teardown does, to empty its throwaway database); docs/audit-retention.md
shows the REVOKE that also takes UPDATE, DELETE and TRUNCATE away from the app's role.
Existing shops that need re-authorization are taken to have lost it now.
"""

from django.db import migrations

TABLE = "shops_auditentry"

FORWARD = f"""
CREATE FUNCTION ordersync_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('ordersync.audit_maintenance', true), '') = 'on' THEN
        RETURN coalesce(NEW, OLD);
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER auditentry_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION ordersync_audit_append_only();
UPDATE shops_shop SET authorization_lost_at = now()
    WHERE status = 'needs_reauth' AND authorization_lost_at IS NULL;
"""

BACKWARD = f"""
DROP TRIGGER IF EXISTS auditentry_append_only ON {TABLE};
DROP FUNCTION IF EXISTS ordersync_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("shops", "0011_audit_log_and_authorization_lost")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
