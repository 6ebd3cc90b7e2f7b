"""The job journal of a `hardware` run: RUN/jobs.jsonl, so an interrupted run resumes without
resubmitting what already finished.

  * One JSON object per line, appended with a single `write` on a file opened `O_APPEND` and then
    `fsync`ed: `{"key", "status": "submitted", "job_id", "device"}` when a job is handed to the
    vendor, `{"key", "status": "done", "job_id", "device", "counts"}` when its results are back.
  * `key` is the sha256 of everything that decides a job's results (`job_key`): the device, the
    circuits (pytket JSON of each template), every row of parameter values, the shots and the seed.
    Running the same forward pass again finds its key `done` and reads the counts back from here.
  * A line cut short by a crash is dropped when the journal is opened (the file is truncated to its
    last complete line), so a record is either whole or absent.
  * Counts are integers per row and outcome (`rows × 2^k`, result bit 0 most significant).
  * Credentials never enter a record: a job is described by its key, device name and job id.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

FILE_NAME = "jobs.jsonl"


def job_key(device: str, circuits: list[str], values: list[np.ndarray], shots: int, seed: int) -> str:
    """sha256 (hex) of what decides a job's results: `circuits` (a stable text per circuit), each
    circuit's parameter values (rows, parameters) as float64, shots and seed."""
    digest = hashlib.sha256(json.dumps([device, shots, seed, len(circuits)]).encode())
    for text, array in zip(circuits, values):
        digest.update(hashlib.sha256(text.encode()).digest())
        array = np.ascontiguousarray(array, dtype=np.float64)
        digest.update(repr(array.shape).encode() + array.tobytes())
    return digest.hexdigest()


class JobJournal:
    """The records of `directory/jobs.jsonl` (none and nothing written when `directory` is None)."""

    def __init__(self, directory: str | Path | None):
        self.path = Path(directory) / FILE_NAME if directory is not None else None
        self.records: dict[str, dict] = {}
        if self.path is not None and self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):  # a record cut short by a crash: drop it
            with open(self.path, "r+b") as handle:
                handle.truncate(len(complete))
        for number, line in enumerate(complete.decode().splitlines(), 1):
            try:
                record = json.loads(line)
                self.records[record["key"]] = record  # a later line (done) replaces an earlier one
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{self.path}:{number}: not a job record; the journal was changed by hand "
                                 f"(move it away to start the run afresh)") from None

    def done(self, key: str) -> list[np.ndarray] | None:
        """The counts of a finished job, one (rows, 2^k) integer array per circuit, or None."""
        record = self.records.get(key)
        if not record or record.get("status") != "done":
            return None
        return [np.asarray(c, dtype=np.int64).reshape(len(c), -1) for c in record["counts"]]

    def submitted(self, key: str) -> str | None:
        """The job id of a job that was submitted but whose results were never recorded."""
        record = self.records.get(key)
        return record["job_id"] if record and record.get("status") == "submitted" else None

    def record(self, key: str, status: str, job_id: str, device: str, counts: list[np.ndarray] | None = None):
        """Append one record (and keep it in memory)."""
        record = {"key": key, "status": status, "job_id": str(job_id), "device": device}
        if counts is not None:
            record["counts"] = [np.asarray(c, dtype=np.int64).tolist() for c in counts]
        self.records[key] = record
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            while written < len(line):  # a short write (rare): finish the same record
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)

    def __len__(self) -> int:
        return len(self.records)
