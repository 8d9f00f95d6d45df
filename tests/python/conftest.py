"""Shared fixtures: a small synthetic lake, and an S3-compatible server on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

import carelake

AS_OF = "2026-11-23"


def read_delta(path) -> "pa.Table":
    """A Delta table's current rows, read file by file.

    Not ``DeltaTable.to_pyarrow_table()``: pyarrow's dataset scanner (pyarrow 26 with deltalake 1.6) can leave
    threads that abort the interpreter at exit ("terminate called without an active exception",
    apache/arrow#34314), which would turn a passing test run into exit code 134.
    """
    import deltalake
    import pyarrow.parquet as pq

    return pq.read_table(deltalake.DeltaTable(path).file_uris())


def assert_in_member_id_order(path, within: tuple[str, ...] = ()) -> None:
    """Each file of the Delta table at ``path`` holds its rows in member_id order (in blocks of one value of the
    columns ``within``, each block in that order), with min/max statistics of member_id in every row group and in
    the Delta log: a look-up of one member skips the files and row groups whose range does not hold it."""
    import deltalake
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = deltalake.DeltaTable(path)
    for uri in table.file_uris():
        rows = pq.read_table(uri, columns=[*within, "member_id"]).to_pylist()
        blocks: dict[tuple, list[str]] = {}
        seen_blocks: list[tuple] = []
        for r in rows:
            key = tuple(r[c] for c in within)
            if not seen_blocks or seen_blocks[-1] != key:
                assert key not in blocks, f"{path}: the rows of {key} are not in one block"
                seen_blocks.append(key)
            blocks.setdefault(key, []).append(r["member_id"])
        for key, ids in blocks.items():
            assert ids == sorted(ids), f"{path}: {key} not in member_id order"
        metadata = pq.ParquetFile(uri).metadata
        position = metadata.schema.names.index("member_id")
        for g in range(metadata.num_row_groups):
            column = metadata.row_group(g).column(position)
            assert column.statistics is not None and column.statistics.has_min_max, path
            assert "RLE_DICTIONARY" not in column.encodings, path
    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    assert actions and all(a["min.member_id"] is not None and a["max.member_id"] is not None for a in actions)


@pytest.fixture(scope="session")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 400-member synthetic lake, generated once per session."""
    lake = tmp_path_factory.mktemp("lake")
    carelake.generate(str(lake), 400, seed=11, as_of=AS_OF)
    return lake


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_bucket() -> str:
    """Start moto's S3 server on 127.0.0.1, point the AWS_* variables at it, and create a bucket."""
    boto3 = pytest.importorskip("boto3")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("the local S3 server did not start")
            time.sleep(0.2)
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT", "AWS_ALLOW_HTTP")}
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT=endpoint,
        AWS_ALLOW_HTTP="true",
    )
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="carelake-test")
    yield "carelake-test"
    server.terminate()
    server.wait(timeout=10)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
