"""The demo's outbox of ``.eml`` files: whole messages only, and it never grows without end."""

from __future__ import annotations

import os
from pathlib import Path

from statuspage.mail.smtp import EmlWriter


def test_the_outbox_keeps_the_newest_messages(tmp_path: Path) -> None:
    writer = EmlWriter(tmp_path / "outbox", keep=150)
    stale = tmp_path / "outbox" / "7-stale.eml.part"
    for index in range(1, 451):
        outcome = writer.write(f"{index}-update", f"Subject: {index}\r\n\r\nbody\r\n".encode())
        assert outcome.outcome == "sent", outcome
        # distinct, increasing times even on a file system with a coarse clock
        os.utime(tmp_path / "outbox" / f"{index}-update.eml", ns=(index * 10**9, index * 10**9))
        if index == 1:
            stale.write_bytes(b"half a mess")  # a writer killed mid-write, long ago
            os.utime(stale, ns=(0, 0))
    names = {p.name for p in (tmp_path / "outbox").iterdir()}
    # pruned after writes 100, 200, 300 and 400: the newest 150 then, plus the 50 written since
    assert len(names) == 200, len(names)
    assert {f"{i}-update.eml" for i in range(251, 451)} == names
    assert not stale.exists()


def test_a_message_is_replaced_whole_on_resend(tmp_path: Path) -> None:
    writer = EmlWriter(tmp_path)
    writer.write("1-update", b"first")
    writer.write("1-update", b"second")
    assert (tmp_path / "1-update.eml").read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["1-update.eml"]


def test_prune_of_a_missing_folder_deletes_nothing(tmp_path: Path) -> None:
    assert EmlWriter(tmp_path / "never-written").prune() == 0
