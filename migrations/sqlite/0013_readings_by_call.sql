-- A call's page lists the readings handed in during it: look them up by call.
CREATE INDEX readings_call ON readings (call_id);
