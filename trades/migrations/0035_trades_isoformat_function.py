from django.db import migrations

# DRF's DateTimeField rendering of a timestamptz in a time zone, for the lists whose JSON
# PostgreSQL writes (trades/api/fastrows.py): ISO 8601 local time, microseconds only when
# there are some, the zone's offset at that moment (with seconds when it has them), "Z" for
# UTC. One expression without FROM, so the planner inlines it; NULL gives NULL.
ISOFORMAT = """
CREATE FUNCTION trades_isoformat(moment timestamptz, zone text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT to_char(moment AT TIME ZONE zone, 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN date_trunc('second', moment) = moment THEN ''
            ELSE to_char(moment AT TIME ZONE zone, '.US') END
    || CASE
        WHEN (moment AT TIME ZONE zone) = (moment AT TIME ZONE 'UTC') THEN 'Z'
        ELSE CASE WHEN (moment AT TIME ZONE zone) < (moment AT TIME ZONE 'UTC') THEN '-'
                  ELSE '+' END
            || to_char(
                abs(extract(epoch FROM (moment AT TIME ZONE zone) - (moment AT TIME ZONE 'UTC')))
                    * interval '1 second',
                CASE WHEN extract(second FROM (moment AT TIME ZONE zone)
                                  - (moment AT TIME ZONE 'UTC')) = 0
                     THEN 'HH24:MI' ELSE 'HH24:MI:SS' END)
    END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("trades", "0034_merged_labels_2")]

    operations = [
        migrations.RunSQL(ISOFORMAT, "DROP FUNCTION trades_isoformat(timestamptz, text);"),
    ]
