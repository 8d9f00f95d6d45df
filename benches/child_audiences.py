"""Benchmark child: five audiences (policy and diff) on a resolved lake with care gaps. Args: LAKE OUT AS_OF."""

import resource
import sys
import time
from pathlib import Path

import carelake
from _child import report

lake, out, as_of = sys.argv[1], sys.argv[2], sys.argv[3]
config = Path(out) / "bench_pipeline.yml"
config.write_text(f"""
version: 1
lake: {lake}
output: {out}
as_of: {as_of}
destinations:
  texts: {{kind: sms, fields: [phone, first_name, preferred_language, message_topic, due_date, appointment_at]}}
  calls: {{kind: voice, fields: [phone, first_name, appointment_at]}}
  emails: {{kind: email, fields: [email, first_name, message_topic, due_date, appointment_at]}}
  care_team: {{kind: crm, fields: [first_name, last_name, phone, email, measure, gap_reason, due_date]}}
  seasonal_media: {{kind: ads_meta, fields: [hashed_email, hashed_phone]}}
audiences:
  - name: preventive_recall
    purpose: care_gaps
    sql: select member_id, min(measure) as measure, 'screening' as message_topic, min(due_date) as due_date, min(reason) as gap_reason from care_gaps where status = 'open' and measure in ('COL-E', 'BCS-E', 'CCS-E') group by member_id
    channels: [sms, email]
    destinations: [texts, emails, care_team]
    holdout: 0.05
  - name: chronic_care_followup
    purpose: care_gaps
    sql: select member_id, 'follow-up' as message_topic from care_gaps where status = 'open' and measure in ('GSD', 'CBP', 'KED', 'EED') group by member_id
    channels: [voice, sms]
    destinations: [calls, texts]
  - name: appointment_reminders
    purpose: care_reminders
    priority: 10
    sql: select member_id, 'appointment' as message_topic, min(start_at) as appointment_at from appointments where status in ('booked', 'confirmed') and start_at >= timestamp '{as_of} 00:00:00' and start_at < timestamp '{as_of} 00:00:00' + interval '8 days' group by member_id
    channels: [sms, voice, email]
    destinations: [texts, calls, emails]
  - name: annual_wellness
    purpose: care_reminders
    sql: select member_id, 'wellness visit' as message_topic from member_profile where age >= 65
    channels: [email, sms]
    destinations: [emails, texts]
    exclude: [appointment_reminders]
  - name: seasonal_outreach
    purpose: care_reminders
    sql: select member_id from member_profile
    channels: [ads]
    destinations: [seasonal_media]
""")
started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
first = carelake.audiences(config)
seconds = time.perf_counter() - started
used = resource.getrusage(resource.RUSAGE_SELF)
started = time.perf_counter()
second = carelake.audiences(config)
rerun = time.perf_counter() - started
report(
    {
        "seconds": seconds,
        "rerun_seconds": rerun,
        "phase_seconds": dict(first["phase_seconds"]),
        # CPU of the first run: system time is mostly the kernel handing out fresh pages, which varies on a VM.
        "cpu_user_seconds": used.ru_utime - cpu.ru_utime,
        "cpu_system_seconds": used.ru_stime - cpu.ru_stime,
        "selected": sum(a["selected"] for a in first["audiences"]),
        "kept": sum(a["members"] for a in first["audiences"]),
        "upserts": sum(u for a in first["audiences"] for u, _ in a["changes"].values()),
        "rerun_upserts": sum(u for a in second["audiences"] for u, _ in a["changes"].values()),
    }
)
