-- Awkward data for the byte-equality check of GET bodies (body-equality.sh), on top of
-- `--devices N --releases M` scale seeding (fleet 1 `admin/scale-fleet`, user 1 `admin`).
BEGIN;
-- A second organisation with its own user and fleet, and a user without any.
INSERT INTO t_organization ("id", "created_at", "modified_at", "name", "handle") VALUES (2, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 'Bob''s "org"', 'bob');
INSERT INTO t_user ("id", "created_at", "modified_at", "actor", "username", "email") VALUES (2, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 900001, 'bob', 'bob@example.com');
INSERT INTO t_user ("id", "created_at", "modified_at", "actor", "username", "email") VALUES (3, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 900002, 'mallory', NULL);
INSERT INTO org_member VALUES (2, 2);
INSERT INTO api_key ("key", "user_id", "name") VALUES ('bob-key-0123456789', 2, 'bob'), ('mallory-key-0123456789', 3, 'mallory');
INSERT INTO t_application ("id", "created_at", "modified_at", "actor", "should_track_latest_release", "is_of__class", "organization", "app_name", "slug", "is_for__device_type", "should_be_running__release", "application_type", "is_host", "is_archived", "uuid", "is_public")
  VALUES (2, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 900003, 0, 'fleet', 2, 'bobfleet', 'bob/bobfleet', 10, NULL, 1, 0, 0, 'b0b00000000000000000000000000002', 1);
INSERT INTO t_release ("id", "created_at", "modified_at", "belongs_to__application", "commit", "composition", "status", "source", "is_invalidated", "start_timestamp", "is_passing_tests", "semver", "semver_major", "semver_minor", "semver_patch", "revision", "raw_version", "version", "contract", "note")
  VALUES (900001, '2026-01-02T00:00:00.000Z', NULL, 2, 'b0b0c0ffee', '{"b":1.5,"a":[1e300,-0.0,0.1,123456789012345678901234567890],"z":{"y":null,"x":true,"y":2}}', 'success', 'local', 0, '2026-01-02T00:00:00.000Z', 1, '0.0.1', 0, 0, 1, NULL, '0.0.1', '{"raw":"0.0.1","ünï":"\u00e9\n\t\"\\"}', 'not json {', 'tab	and "quotes" and \ backslash and é and 🎉');
INSERT INTO t_device ("id", "created_at", "modified_at", "actor", "uuid", "device_name", "is_of__device_type", "belongs_to__application", "is_online", "is_pinned_on__release", "is_running__release", "status", "os_version", "memory_usage", "cpu_temp", "note")
  VALUES (900001, '2026-01-02T00:00:00.000Z', NULL, 900004, 'b0b0de1ce0000000000000000000001', 'bob''s device', 12, 2, 1, 900001, 900001, 'Idle', 'balenaOS 6.0.0', 1.5, -3, 'line
break');
UPDATE t_application SET "should_be_running__release" = 900001 WHERE "id" = 2;
-- Fleet 1: some pins, running releases, progress, names that are NULL, odd or equal.
UPDATE t_device SET "is_pinned_on__release" = 1 + ("id" % 7) WHERE "id" % 97 = 0;
UPDATE t_device SET "is_running__release" = 1 + ("id" % 13), "is_online" = 1, "status" = 'Idle', "os_version" = 'balenaOS 5.1.' || ("id" % 3), "supervisor_version" = '16.0.' || ("id" % 5) WHERE "id" % 5 = 0;
UPDATE t_device SET "download_progress" = "id" % 100, "status" = 'Downloading' WHERE "id" % 11 = 0;
UPDATE t_device SET "device_name" = NULL WHERE "id" IN (3, 30, 300, 3000);
UPDATE t_device SET "device_name" = 'scale-device-5' WHERE "id" IN (7, 8, 9);
UPDATE t_device SET "device_name" = 'ünïcödé "q" \ <>&' || char(1) || char(31) || char(127) WHERE "id" = 4;
UPDATE t_device SET "memory_usage" = 0.1 + 0.2, "cpu_temp" = 1e308 * 10, "storage_usage" = 'text in an int' WHERE "id" = 5;
UPDATE t_device SET "is_web_accessible" = 2, "is_undervolted" = 3.5 WHERE "id" = 6;
UPDATE t_release SET "is_invalidated" = 1, "note" = 'invalidated' WHERE "id" % 10 = 3;
UPDATE t_release SET "composition" = '{"services":{"main":{"image":"x","ports":[80,443]}}}', "contract" = '[1,"two",3.25,null]' WHERE "id" % 17 = 0;
UPDATE t_release SET "created_at" = NULL WHERE "id" IN (2, 4);
UPDATE t_release SET "release_version" = 'v' || "id" WHERE "id" % 3 = 0;
INSERT INTO t_release_tag ("created_at", "modified_at", "release", "tag_key", "value")
  SELECT '2026-01-03T00:00:00.000Z', '2026-01-03T00:00:00.000Z', "id", 'channel', CASE "id" % 3 WHEN 0 THEN 'stable' WHEN 1 THEN 'beta' ELSE 'a "quoted" \ value' END FROM t_release WHERE "id" % 4 = 0;
INSERT INTO t_release_tag ("created_at", "modified_at", "release", "tag_key", "value")
  SELECT '2026-01-03T00:00:00.000Z', '2026-01-03T00:00:00.000Z', "id", 'build', 'b' || "id" FROM t_release WHERE "id" % 8 = 0;
INSERT INTO t_release_tag ("created_at", "modified_at", "release", "tag_key", "value") VALUES ('2026-01-03T00:00:00.000Z', NULL, 900001, 'ü', '');
INSERT INTO t_device_tag ("created_at", "modified_at", "device", "tag_key", "value")
  SELECT '2026-01-03T00:00:00.000Z', '2026-01-03T00:00:00.000Z', "id", 'site', 'site-' || ("id" % 4) FROM t_device WHERE "id" % 50 = 0;
COMMIT;
