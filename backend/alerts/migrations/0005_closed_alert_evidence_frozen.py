"""The database refuses to change the evidence of an alert someone has judged.

Once an alert is pending verification, confirmed or dismissed, its probe crop, box, best score
and matched photo are what people adjudicated; once it is closed, its sightings count and last
sighting are the record too. A BEFORE UPDATE trigger refuses such changes, whatever the caller
(raising.py already never makes them). Emptying stays allowed: the retention purge deletes a
closed alert's crop, and deleting an enrolled photo sets `matched_photo` to null.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION alert_refuse_evidence_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status IN ('new', 'acknowledged', 'escalated') THEN
        RETURN NEW;
    END IF;
    IF NEW.best_score IS DISTINCT FROM OLD.best_score
        OR NEW.probe_box IS DISTINCT FROM OLD.probe_box
        OR (NEW.probe_jpeg IS NOT NULL AND NEW.probe_jpeg IS DISTINCT FROM OLD.probe_jpeg)
        OR (NEW.matched_photo_id IS NOT NULL AND NEW.matched_photo_id IS DISTINCT FROM OLD.matched_photo_id)
        OR (OLD.status IN ('confirmed', 'dismissed')
            AND (NEW.sightings_count IS DISTINCT FROM OLD.sightings_count
                 OR NEW.last_seen_at IS DISTINCT FROM OLD.last_seen_at))
    THEN
        RAISE EXCEPTION 'the evidence of alert % (%) was adjudicated and cannot change', OLD.id, OLD.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER alert_evidence_frozen
    BEFORE UPDATE ON alerts_alert
    FOR EACH ROW EXECUTE FUNCTION alert_refuse_evidence_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS alert_evidence_frozen ON alerts_alert;
DROP FUNCTION IF EXISTS alert_refuse_evidence_change();
"""


class Migration(migrations.Migration):
    dependencies = [("alerts", "0004_alert_zone_to_zones")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
