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

    if kill_at.startswith("scrub:"):
        _kill_inside_the_scrub(kill_at)
    store = open_store(url)
    import goodwill.rights.erase as erase

    original = erase.run_job

    def run_job(s, job_id, *, hook_=None, **kw):  # type: ignore[no-untyped-def]
        return original(s, job_id, hook=hook)

    erase.run_job = run_job  # type: ignore[assignment]
    fulfil_request(store, request_id)
    store.close()
    print("done", flush=True)


def _kill_inside_the_scrub(kill_at: str) -> None:
    """Die half way through writing the scrub's journal, or a metadata block of the file."""
    from goodwill.store import duck_erase

    if kill_at == "scrub:journal":
        def write_journal(path, blocks):  # type: ignore[no-untyped-def]
            body = b"".join(blocks.values())
            with open(path, "wb") as fh:
                fh.write(duck_erase._JOURNAL_MAGIC + body[: len(body) // 2])
                fh.flush()
                os.fsync(fh.fileno())
            os.kill(os.getpid(), signal.SIGKILL)

        duck_erase._write_journal = write_journal
    else:
        real_apply = duck_erase._apply

        def apply(fd, blocks, block_size):  # type: ignore[no-untyped-def]
            block, data = next(iter(blocks.items()))
            real_apply(fd, {block: data[: len(data) // 2]}, block_size)
            os.kill(os.getpid(), signal.SIGKILL)

        duck_erase._apply = apply


if __name__ == "__main__":
    main()
