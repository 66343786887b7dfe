"""Run one erasure request in a process of its own (the crash test kills it)."""

from __future__ import annotations

import os
import signal
import sys

from goodwill.rights import fulfil_request
from goodwill.store import open_store


def main() -> None:
    url, request_id, kill_at = sys.argv[1], sys.argv[2], sys.argv[3]

    def hook(step: str) -> None:
        print(step, flush=True)
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    store = open_store(url)
    import goodwill.rights.erase as erase

    original = erase.run_job

    def run_job(s, job_id, *, hook_=None, **kw):  # type: ignore[no-untyped-def]
        return original(s, job_id, hook=hook)

    erase.run_job = run_job  # type: ignore[assignment]
    fulfil_request(store, request_id)
    store.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
