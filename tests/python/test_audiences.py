"""Audiences end to end on a small synthetic lake: consent and opt-outs, quiet hours, idempotent reruns,
minimum-necessary payloads, hashed identifiers for ads, dry runs and clear configuration errors."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

import carelake
from carelake.exceptions import ConfigError
from conftest import AS_OF, assert_in_member_id_order, read_delta

NEXT_DAY = "2026-11-24"

CONFIG = """
version: 1
lake: {lake}
output: {out}
as_of: {as_of}
destinations:
  texts: {{kind: sms, fields: [phone, first_name, message_topic, due_date]}}
  mail_house: {{kind: email, fields: [email, first_name, message_topic]}}
  seasonal_media: {{kind: ads_meta, fields: [hashed_email, hashed_phone], min_members: 1}}
  vendor_files: {{kind: file_drop, path: {out}/drops, fields: [first_name, message_topic]}}
audiences:
  - name: preventive_recall
    purpose: care_gaps
    sql: >-
      select member_id, 'screening' as message_topic, min(due_date) as due_date
      from care_gaps where status = 'open' group by member_id
    channels: [sms, email]
    destinations: [texts, mail_house, vendor_files]
  - name: seasonal_outreach
    purpose: marketing
    sql: select member_id from member_profile
    channels: [ads]
    destinations: [seasonal_media]
    exclude: [preventive_recall]
"""


@pytest.fixture(scope="module")
def pipeline(small_lake, tmp_path_factory):
    out = tmp_path_factory.mktemp("aud")
    carelake.identity(str(small_lake / "person_records"), str(out), as_of=AS_OF)
    carelake.caregaps(str(small_lake), str(out), as_of=AS_OF)
    config = out / "pipeline.yml"
    config.write_text(CONFIG.format(lake=small_lake, out=out, as_of=AS_OF))
    return small_lake, out, config


def test_audiences_respect_consent_quiet_hours_and_minimum_necessary(pipeline) -> None:
    lake, out, config = pipeline
    dry = carelake.audiences(config, dry_run=True)
    assert dry["dry_run"] and not (out / "audience_members").exists()
    report = carelake.audiences(config)
    recall = next(a for a in report["audiences"] if a["name"] == "preventive_recall")
    assert recall["selected"] > 0 and recall["members"] > 0
    assert sum(recall["suppressed"].values()) > 0
    texts = read_delta(out / "outreach_texts").to_pylist()
    assert texts and all(r["op"] == "upsert" for r in texts)
    # Each audience's rows come in member_id order, as member_profile's do (look-ups of a member skip the rest).
    for table in ("audience_members", "audience_events", "suppressions", "outreach_texts"):
        assert_in_member_id_order(out / table, within=("audience",))
    runs = read_delta(out / "sync_runs").to_pylist()
    texts_run = next(r for r in runs if r["audience"] == "preventive_recall" and r["destination"] == "texts")
    assert texts_run["planned_add"] == len(texts) and texts_run["planned_remove"] == 0
    drops = list((out / "drops").glob("vendor_files-*.csv"))
    assert len(drops) == 1 and "idempotency_key" in drops[0].read_text().splitlines()[0]
    # Minimum necessary: only the configured, allowed fields; never a diagnosis or measure.
    for r in texts:
        assert set(json.loads(r["payload"])) <= {"phone", "first_name", "message_topic", "due_date"}
    # Ads get hashes only.
    ads = read_delta(out / "outreach_seasonal_media").to_pylist()
    assert ads
    for r in ads:
        payload = json.loads(r["payload"])
        assert set(payload) <= {"hashed_email", "hashed_phone"}
        assert all(len(v) == 64 and all(c in "0123456789abcdef" for c in v) for v in payload.values())
    # Quiet hours: every phone window starts between 8:00 and 21:00 local.
    profile = {r["member_id"]: r for r in read_delta(out / "member_profile").to_pylist()}
    members = read_delta(out / "audience_members").to_pylist()
    for m in members:
        if m["channel"] == "sms":
            start = m["window_start_utc"].replace(tzinfo=timezone.utc)
            local = start.astimezone(ZoneInfo(profile[m["member_id"]]["time_zone"]))
            assert 8 <= local.hour < 21, m
    # Opted out of sms (latest consent, or a STOP reply): never in the sms change set.
    consents = read_delta(lake / "consents").to_pylist()
    xref = {(r["source_system"], r["source_record_id"]): r["member_id"] for r in read_delta(out / "identity_xref").to_pylist()}
    as_of = datetime.fromisoformat(AS_OF + "T12:00:00+00:00")
    latest: dict[str, tuple] = {}
    for c in consents:
        member = xref.get((c["source_system"], c["source_record_id"]))
        at = c["captured_at"].replace(tzinfo=timezone.utc)
        if member and c["channel"] == "sms" and c["purpose"] in ("all", "care_gaps") and at <= as_of:
            if member not in latest or at >= latest[member][0]:
                latest[member] = (at, c["status"])
    opted_out = {m for m, (_, status) in latest.items() if status == "opt_out"}
    sent = {r["member_id"] for r in texts}
    assert not (sent & opted_out)
    suppressed = read_delta(out / "suppressions").to_pylist()
    assert {"CONSENT_NONE"} <= {s["rule"] for s in suppressed}


def test_rerun_emits_nothing_new(pipeline) -> None:
    _, out, config = pipeline
    carelake.audiences(config)
    before = read_delta(out / "outreach_texts").num_rows
    events: list[tuple[str, str, int]] = []
    again = carelake.audiences(config, progress=lambda event, task, units: events.append((event, task, units)))
    assert all(not a["changes"] for a in again["audiences"])
    assert read_delta(out / "outreach_texts").num_rows == before
    # Progress is one task over the run's phases, a step each, not a bar over the SQL alone.
    phases = [name for name, _ in again["phase_seconds"]]
    assert phases == ["profiles", "sql_outputs", "xref", "ledger", "sql", "policy", "diff", "write"]
    assert events[0] == ("start", "audiences", len(phases)) and events[-1][0] == "finish"
    assert sum(units for event, _, units in events if event == "advance") == len(phases)
    assert [e for e, _, _ in events].count("start") == 1
    # A dry run has every phase but the write, and its progress counts to the end of those.
    events.clear()
    dry = carelake.audiences(config, dry_run=True, progress=lambda event, task, units: events.append((event, task, units)))
    assert [name for name, _ in dry["phase_seconds"]] == phases[:-1]
    assert events[0] == ("start", "audiences", len(phases) - 1)
    assert sum(units for event, _, units in events if event == "advance") == len(phases) - 1


def test_bad_audiences_are_named(pipeline, tmp_path) -> None:
    lake, out, _ = pipeline
    bad = tmp_path / "bad.yml"
    bad.write_text(CONFIG.format(lake=lake, out=out, as_of=AS_OF).replace("from member_profile", "from no_such_table"))
    with pytest.raises(ConfigError, match="seasonal_outreach"):
        carelake.audiences(bad, dry_run=True)
    failed_before = [r for r in read_delta(out / "runs").to_pylist() if r["status"] == "failed"]
    assert not failed_before, "a dry run writes nothing, not even its failure"
    # The SQL is checked before any table is read: the run stops before its first phase is done, and the run
    # log keeps the failed attempt with its error.
    events: list[str] = []
    with pytest.raises(ConfigError, match="audience 'seasonal_outreach': sql: .*no_such_table") as raised:
        carelake.audiences(bad, progress=lambda event, task, units: events.append(event))
    assert "advance" not in events, events
    failed = [r for r in read_delta(out / "runs").to_pylist() if r["status"] == "failed"]
    assert [(r["stage"], r["message"]) for r in failed] == [("audiences", str(raised.value))]
    assert failed[0]["finished_at"] >= failed[0]["started_at"]
    named = tmp_path / "named.yml"
    named.write_text(CONFIG.format(lake=lake, out=out, as_of=AS_OF).replace("name: seasonal_outreach", "name: diabetes_outreach").replace("[preventive_recall]\n", "[preventive_recall]\n"))
    with pytest.raises(ConfigError, match="diabetes"):
        carelake.audiences(named, dry_run=True)
    no_member = tmp_path / "nomember.yml"
    no_member.write_text(CONFIG.format(lake=lake, out=out, as_of=AS_OF).replace("select member_id from member_profile", "select first_name from member_profile"))
    with pytest.raises(ConfigError, match="member_id"):
        carelake.audiences(no_member, dry_run=True)


def test_a_failed_send_is_retried(pipeline, tmp_path) -> None:
    lake, out, config = pipeline
    carelake.audiences(config)
    member = read_delta(out / "outreach_texts").to_pylist()[0]["member_id"]
    feedback = tmp_path / "communications.csv"
    feedback.write_text(
        "message_id,member_id,channel,direction,audience,template,sent_at,status,body_keyword\n"
        f"M1,{member},sms,outbound,preventive_recall,recall_v1,{AS_OF}T18:00:00Z,failed,\n"
    )
    retry = tmp_path / "retry.yml"
    retry.write_text(
        CONFIG.format(lake=lake, out=out, as_of=AS_OF)
        + f"sources:\n  communications:\n    uri: {feedback}\n"
    )
    report = carelake.audiences(retry, as_of=NEXT_DAY)
    recall = next(a for a in report["audiences"] if a["name"] == "preventive_recall")
    assert recall["changes"].get("texts", (0, 0))[0] >= 1
    latest_run = report["run_id"]
    rows = [r for r in read_delta(out / "outreach_texts").to_pylist() if r["run_id"] == latest_run]
    assert member in {r["member_id"] for r in rows}


def test_engagement_rows_that_fail_to_conform_or_reach_no_member_are_quarantined_with_a_reason(
    pipeline, tmp_path
) -> None:
    lake, out, first_config = pipeline
    member = read_delta(out / "member_profile").to_pylist()[0]["member_id"]
    carelake.audiences(first_config)
    texted = next(r["member_id"] for r in read_delta(out / "audience_members").to_pylist() if r["channel"] == "sms")
    feedback = tmp_path / "communications.csv"
    feedback.write_text(
        "message_id,member_id,channel,direction,audience,template,sent_at,status,body_keyword\n"
        f"M1,{member},sms,outbound,preventive_recall,recall_v1,{AS_OF}T18:00:00Z,delivered,\n"
        f"M2,{member},sms,outbound,preventive_recall,recall_v1,31/13/2026 25:61,delivered,\n"
        f"M3,MBR-NOT-KNOWN,sms,inbound,,,{AS_OF}T18:00:00Z,replied,STOP\n"
        # A STOP reply recorded without its message id still revokes: only what the ledger reads is checked.
        f",{texted},sms,inbound,,,{AS_OF}T08:00:00Z,replied,STOP\n"
    )
    consents = tmp_path / "consents.csv"
    consents.write_text(
        "source_system,source_record_id,channel,purpose,status,basis,captured_at,source\n"
        f"crm,NO-SUCH-RECORD,sms,all,opt_out,none,{AS_OF}T09:00:00Z,sms_reply\n"
    )
    config = tmp_path / "feedback.yml"
    config.write_text(
        CONFIG.format(lake=lake, out=out, as_of=AS_OF)
        + f"sources:\n  communications:\n    uri: {feedback}\n  consents:\n    uri: {consents}\n"
    )
    report = carelake.audiences(config)
    rows = [q for q in read_delta(out / "quarantine").to_pylist() if q["run_id"] == report["run_id"]]
    assert sorted((q["table_name"], q["row_number"], q["column_name"], q["reason_code"]) for q in rows) == [
        ("communications", 1, "sent_at", "bad_timestamp"),
        # A STOP reply and an opt-out that reach no member are shown, not lost: they cannot be honored.
        ("communications", 2, "member_id", "unknown_person"),
        ("consents", 0, "member_id", "unknown_person"),
    ]
    for q in rows:  # the reason describes the rule, never the value
        assert "31/13" not in q["reason"] and "NOT-KNOWN" not in q["reason"] and "NO-SUCH" not in q["reason"]
    run = [r for r in read_delta(out / "runs").to_pylist() if r["run_id"] == report["run_id"]]
    assert {r["rows_quarantined"] for r in run} == {3}
    assert report["quarantined"] == {
        "communications.bad_timestamp": 1,
        "communications.unknown_person": 1,
        "consents.unknown_person": 1,
    }
    members = [r for r in read_delta(out / "audience_members").to_pylist() if r["member_id"] == texted]
    suppressed = [
        r for r in read_delta(out / "suppressions").to_pylist()
        if r["member_id"] == texted and r["run_id"] == report["run_id"]
    ]
    assert members or suppressed, "the member is still selected: sent another way or left out with a rule"
    assert all(r["channel"] != "sms" for r in members)


MAIL_HOUSE = """
version: 1
lake: {lake}
output: {out}
as_of: {as_of}
destinations:
  mail_house: {{kind: email, fields: [email, first_name]}}
audiences:
{audiences}
"""


def mail_house_audience(name: str, sql: str) -> str:
    """One care-gaps audience of MAIL_HOUSE, sent by email."""
    return (
        f"  - name: {name}\n    purpose: care_gaps\n    sql: \"{sql}\"\n"
        "    channels: [email]\n    destinations: [mail_house]\n"
    )


def test_an_opt_in_counts_only_for_the_phone_it_names(pipeline, tmp_path) -> None:
    lake, out, _ = pipeline
    reachable = [
        p
        for p in read_delta(out / "member_profile").to_pylist()
        if p["has_valid_phone"] and p["phone"] and p["time_zone"] and not p["deceased_date"]
    ]
    current, moved = reachable[0], reachable[1]
    digits = current["phone"][2:]  # +1 and ten digits
    other = "+12125550143" if moved["phone"] != "+12125550143" else "+13125550143"
    consents = tmp_path / "consents.csv"
    consents.write_text(
        "member_id,channel,purpose,status,basis,contact_point,captured_at\n"
        # The member's own number written another way, and a number the other member no longer has.
        f"{current['member_id']},sms,care_gaps,opt_in,prior_express,({digits[:3]}) {digits[3:6]}-{digits[6:]},"
        f"{AS_OF}T09:00:00Z\n"
        f"{moved['member_id']},sms,care_gaps,opt_in,prior_express,{other},{AS_OF}T09:00:00Z\n"
    )
    members = ", ".join(f"'{m['member_id']}'" for m in (current, moved))
    config = tmp_path / "texts.yml"
    config.write_text(
        f"version: 1\nlake: {lake}\noutput: {out}\nas_of: {AS_OF}\n"
        "destinations:\n  texts: {kind: sms, fields: [phone, first_name]}\n"
        "audiences:\n  - name: recall\n    purpose: care_gaps\n"
        f'    sql: "select member_id from member_profile where member_id in ({members})"\n'
        "    channels: [sms]\n    destinations: [texts]\n"
        f"sources:\n  consents:\n    uri: {consents}\n"
    )
    recall = carelake.audiences(config, dry_run=True)["audiences"][0]
    assert recall["members"] == 1 and recall["suppressed"] == {"CONSENT_OTHER_CONTACT_POINT": 1}


def test_do_not_contact_and_stricter_rules_from_the_pipeline_file(pipeline, tmp_path) -> None:
    lake, out, _ = pipeline
    everyone = mail_house_audience("wellness_newsletter", "select member_id from member_profile")
    base = MAIL_HOUSE.format(lake=lake, out=out, as_of=AS_OF, audiences=everyone)
    config = tmp_path / "everyone.yml"
    config.write_text(base)
    plain = carelake.audiences(config, dry_run=True)["audiences"][0]
    # The generator plants a do-not-contact request (channel all, purpose all, opt_out) for one person in 400.
    requests = [c for c in read_delta(lake / "consents").to_pylist() if c["channel"] == "all"]
    assert requests and plain["suppressed"].get("DO_NOT_CONTACT", 0) == len(requests)
    # A plan may ask for more than the law (written consent for email about care gaps; the generator's email
    # consents are prior express) and add caps of its own.
    assert plain["members"] > 0
    config.write_text(base + "outreach_rules:\n  consent_basis: {care_gaps: {email: written}}\n")
    strict = carelake.audiences(config, dry_run=True)["audiences"][0]
    insufficient = plain["suppressed"].get("CONSENT_BASIS_INSUFFICIENT", 0)
    assert strict["members"] == 0 and strict["suppressed"]["CONSENT_BASIS_INSUFFICIENT"] == insufficient + plain["members"]
    config.write_text(
        base + "outreach_rules:\n  frequency_caps: [{rule: CAP_EMAIL_PAUSED, max: 0, window_hours: 24, channels: [email]}]\n"
    )
    paused = carelake.audiences(config, dry_run=True)["audiences"][0]
    assert paused["members"] == 0 and paused["suppressed"]["CAP_EMAIL_PAUSED"] == plain["members"]
    # Never less than the law: a weaker basis is refused, naming the field.
    config.write_text(base + "outreach_rules:\n  consent_basis: {marketing: {sms: prior_express}}\n")
    with pytest.raises(ConfigError, match=r"outreach_rules\.consent_basis\.marketing\.sms"):
        carelake.audiences(config, dry_run=True)


MIXED_AUDIENCES = {
    # Reads only an output table: its SQL runs before the xref and the ledger are built.
    "open_gaps": "select member_id from care_gaps where status = 'open' group by member_id",
    # Reads member_profile as well as appointments: runs last, so member_profile must still be there.
    "booked_visits": (
        "select p.member_id, min(a.start_at) as appointment_at from member_profile p "
        "join appointments a on a.member_id = p.member_id "
        "where a.status in ('booked', 'confirmed') group by p.member_id"
    ),
    "everyone": "select member_id from member_profile",
}


def test_sql_run_early_or_late_selects_what_it_selects_alone(pipeline, tmp_path) -> None:
    lake, out, _ = pipeline

    def selected(names: list[str]) -> dict[str, int]:
        audiences = "".join(mail_house_audience(n, MIXED_AUDIENCES[n]) for n in names)
        config = tmp_path / f"{'-'.join(names)}.yml"
        config.write_text(MAIL_HOUSE.format(lake=lake, out=out, as_of=AS_OF, audiences=audiences))
        report = carelake.audiences(config, dry_run=True)
        return {a["name"]: a["selected"] for a in report["audiences"]}

    together = selected(list(MIXED_AUDIENCES))
    alone = {n: selected([n])[n] for n in MIXED_AUDIENCES}
    assert together == alone
    assert all(n > 0 for n in together.values())


def test_sql_over_an_empty_table_selects_nobody_and_over_a_missing_one_is_named_before_a_run(pipeline, tmp_path) -> None:
    import shutil

    import pyarrow.parquet as pq

    lake, out, _ = pipeline
    audiences = "".join(mail_house_audience(n, sql) for n, sql in MIXED_AUDIENCES.items())
    empty = tmp_path / "appointments.parquet"
    pq.write_table(read_delta(lake / "appointments").schema.empty_table(), empty)
    config = tmp_path / "empty.yml"
    config.write_text(
        MAIL_HOUSE.format(lake=lake, out=out, as_of=AS_OF, audiences=audiences)
        + f"sources:\n  appointments:\n    uri: {empty}\n"
    )
    selected = {a["name"]: a["selected"] for a in carelake.audiences(config, dry_run=True)["audiences"]}
    assert selected["booked_visits"] == 0 and selected["open_gaps"] > 0 and selected["everyone"] > 0
    # A lake without appointments and an output without care_gaps: both named, with the audiences that read them.
    bare_lake, bare_out = tmp_path / "lake", tmp_path / "out"
    for table in ("consents", "communications"):
        shutil.copytree(lake / table, bare_lake / table)
    for table in ("member_profile", "identity_xref"):
        shutil.copytree(out / table, bare_out / table)
    config.write_text(MAIL_HOUSE.format(lake=bare_lake, out=bare_out, as_of=AS_OF, audiences=audiences))
    for check in (carelake.validate_config, carelake.audiences):
        with pytest.raises(ConfigError) as error:
            check(config)
        message = str(error.value)
        assert "audience 'open_gaps' reads care_gaps, which is not in the output" in message
        assert "audience 'booked_visits' reads appointments, which is not in the lake" in message
        assert "everyone" not in message
    # With a caregaps section the run makes care_gaps before its audiences: only appointments is missing.
    config.write_text(config.read_text() + "caregaps:\n  value_sets: [sample]\n")
    with pytest.raises(ConfigError, match="booked_visits") as error:
        carelake.validate_config(config)
    assert "care_gaps" not in str(error.value)
    config.write_text(MAIL_HOUSE.format(lake=bare_lake, out=bare_out, as_of=AS_OF, audiences=audiences))
    # Nothing but the failed run's row in the run log.
    assert sorted(p.name for p in bare_out.iterdir()) == ["identity_xref", "member_profile", "runs"]
    assert [r["status"] for r in read_delta(bare_out / "runs").to_pylist()] == ["failed"]


def test_rows_without_a_member_id_are_counted_not_dropped(pipeline, tmp_path) -> None:
    lake, out, _ = pipeline
    sql = "select member_id from member_profile union all select cast(null as varchar) as member_id from member_profile"
    config = tmp_path / "nulls.yml"
    config.write_text(
        MAIL_HOUSE.format(lake=lake, out=out, as_of=AS_OF, audiences=mail_house_audience("with_nulls", sql))
    )
    summary = carelake.audiences(config, dry_run=True)["audiences"][0]
    profiles = len(read_delta(out / "member_profile"))
    assert summary["selected"] == profiles
    assert summary["without_member_id"] == profiles


def test_outreach_does_not_depend_on_the_order_engagement_rows_are_stored_in(pipeline, tmp_path) -> None:
    """The same consents, communications and appointments stored in another row order give the same members,
    suppressions and outreach rows (run ids and run times aside)."""
    import random
    import shutil

    import pyarrow.parquet as pq

    lake, out, _ = pipeline
    scrambled = {}
    for table in ("consents", "communications", "appointments"):
        rows = read_delta(lake / table)
        order = list(range(rows.num_rows))
        random.Random(7).shuffle(order)
        path = tmp_path / f"{table}.parquet"
        pq.write_table(rows.take(order), path)
        scrambled[table] = path
    sources = "sources:\n" + "".join(f"  {t}:\n    uri: {p}\n" for t, p in scrambled.items())
    results = []
    for name, extra in (("stored", ""), ("scrambled", sources)):
        run_out = tmp_path / name
        run_out.mkdir()
        for table in ("member_profile", "identity_xref", "care_gaps", "measure_rates"):
            shutil.copytree(out / table, run_out / table)
        config = tmp_path / f"{name}.yml"
        config.write_text(CONFIG.format(lake=lake, out=run_out, as_of=AS_OF) + extra)
        carelake.audiences(config)
        tables = {}
        for table in ("audience_members", "suppressions", "outreach_texts", "outreach_seasonal_media"):
            rows = read_delta(run_out / table).to_pylist()
            keep = [{k: v for k, v in r.items() if k not in ("run_id", "emitted_at")} for r in rows]
            tables[table] = sorted(json.dumps(r, sort_keys=True, default=str) for r in keep)
        results.append(tables)
    assert all(results[0][t] for t in ("audience_members", "suppressions", "outreach_texts"))
    for table in results[0]:
        assert results[0][table] == results[1][table], table


def test_an_ad_audience_below_its_minimum_is_held_back_and_what_was_sent_is_removed(pipeline, tmp_path) -> None:
    import shutil

    lake, out, _ = pipeline
    run_out = tmp_path / "out"
    for table in ("member_profile", "identity_xref", "care_gaps", "measure_rates"):
        shutil.copytree(out / table, run_out / table)
    config = tmp_path / "pipeline.yml"
    config.write_text(CONFIG.format(lake=lake, out=run_out, as_of=AS_OF))
    first = carelake.audiences(config)
    seasonal = next(a for a in first["audiences"] if a["name"] == "seasonal_outreach")
    sent = seasonal["members"]
    assert sent > 0 and seasonal["below_minimum"] == {}
    assert seasonal["changes"]["seasonal_media"] == (sent, 0)

    # One more than the audience has: held back. Nobody is added, everyone sent before is removed, and the
    # members (the audience has no other destination) are suppressed with the rule; no patient value in the detail.
    config.write_text(CONFIG.format(lake=lake, out=run_out, as_of=NEXT_DAY).replace("min_members: 1", f"min_members: {sent + 1}"))
    held = carelake.audiences(config)
    seasonal = next(a for a in held["audiences"] if a["name"] == "seasonal_outreach")
    assert seasonal["below_minimum"] == {"seasonal_media": sent}
    assert seasonal["members"] == 0
    assert seasonal["suppressed"]["AUDIENCE_BELOW_MINIMUM_SIZE"] == sent
    assert seasonal["changes"]["seasonal_media"] == (0, sent)
    recall = next(a for a in held["audiences"] if a["name"] == "preventive_recall")
    assert recall["below_minimum"] == {} and recall["members"] > 0
    rows = [r for r in read_delta(run_out / "outreach_seasonal_media").to_pylist() if r["run_id"] == held["run_id"]]
    assert len(rows) == sent and all(r["op"] == "delete" for r in rows)
    runs = [r for r in read_delta(run_out / "sync_runs").to_pylist() if r["run_id"] == held["run_id"]]
    status = {(r["audience"], r["destination"]): (r["status"], r["members"]) for r in runs}
    assert status[("seasonal_outreach", "seasonal_media")] == ("below_minimum", 0)
    assert status[("preventive_recall", "texts")][0] == "succeeded"
    members = {r["member_id"] for r in read_delta(run_out / "member_profile").to_pylist()}
    details = {
        r["detail"]
        for r in read_delta(run_out / "suppressions").to_pylist()
        if r["run_id"] == held["run_id"] and r["rule"] == "AUDIENCE_BELOW_MINIMUM_SIZE"
    }
    assert details == {f"ads_meta destination 'seasonal_media' would get {sent} members, fewer than its min_members {sent + 1}"}
    assert not any(m in d for d in details for m in members)

    # min_members is an ad destination's setting: elsewhere it is refused, naming the destination and field.
    config.write_text(
        CONFIG.format(lake=lake, out=run_out, as_of=AS_OF).replace(
            "fields: [phone, first_name, message_topic, due_date]}", "fields: [phone], min_members: 5}"
        )
    )
    with pytest.raises(ConfigError, match="texts.*min_members"):
        carelake.audiences(config, dry_run=True)
