"""Every branch of building ED examples, on hand-made releases."""

from __future__ import annotations

import pytest

from harness.data import ed
from harness.errors import DataError
from tests.conftest import ed_row


def conversation(conv: str, utterances: list[str], emotion: str = "sad") -> list[str]:
    return [ed_row(conv, i + 1, u, emotion) for i, u in enumerate(utterances)]


def test_even_conversation_targets_last_turn(make_release):
    src = make_release({"test": conversation("c1", ["I lost my job.", "Oh no! Why?", "Cutbacks.", "That is hard."])})
    [ex] = ed.load_examples("test", src)
    assert ex.reference == "That is hard."
    assert ex.context == ("I lost my job.", "Oh no! Why?", "Cutbacks.")
    assert ex.prev == "Cutbacks."
    assert (ex.id, ex.emotion, ex.situation) == ("c1", "sad", "a situation")


def test_odd_conversation_targets_second_to_last(make_release):
    src = make_release({"test": conversation("c1", ["one", "two", "three"])})
    [ex] = ed.load_examples("test", src)
    assert ex.reference == "two"
    assert ex.context == ("one",)
    assert ex.prev == "one"


def test_two_turn_conversation(make_release):
    src = make_release({"test": conversation("c1", ["hi", "hello"])})
    [ex] = ed.load_examples("test", src)
    assert (ex.context, ex.reference) == (("hi",), "hello")


def test_comma_decoded_in_prompt_and_utterance(make_release):
    rows = [
        ed_row("c1", 1, "well_comma_ I tried", prompt="I failed_comma_ again"),
        ed_row("c1", 2, "oh_comma_ no", prompt="I failed_comma_ again"),
    ]
    [ex] = ed.load_examples("test", make_release({"test": rows}))
    assert ex.context == ("well, I tried",)
    assert ex.reference == "oh, no"
    assert ex.situation == "I failed, again"


def test_rows_ordered_by_utterance_idx(make_release):
    rows = [ed_row("c1", 2, "second"), ed_row("c1", 1, "first"), ed_row("c1", 4, "fourth"), ed_row("c1", 3, "third")]
    [ex] = ed.load_examples("test", make_release({"test": rows}))
    assert ex.context == ("first", "second", "third")
    assert ex.reference == "fourth"


def test_label_is_first_rows_context(make_release):
    rows = [ed_row("c1", 1, "a", emotion="proud"), ed_row("c1", 2, "b", emotion="sad")]
    [ex] = ed.load_examples("test", make_release({"test": rows}))
    assert ex.emotion == "proud"


def test_roles_alternate_speaker_first(make_release):
    dialogues, _ = ed.load_split("test", make_release({"test": conversation("c1", ["a", "b", "c", "d"])}))
    assert [t.role for t in dialogues[0].turns] == [ed.SPEAKER, ed.LISTENER, ed.SPEAKER, ed.LISTENER]


def test_hit_rows_dropped_and_counted(make_release):
    rows = conversation("c1", ["a", "b", "c", "d"])
    rows[3] = ed_row("c1", 4, "d hit:123_conv:456")
    dialogues, report = ed.load_split("test", make_release({"test": rows}))
    assert report.skipped_rows == {"utterance contains 'hit:' (EmPO's filter)": 1}
    # three turns remain: the target becomes the second to last, as in EmPO
    assert ed.example_from(dialogues[0]).reference == "b"


def test_roles_by_position_after_a_dropped_row(make_release):
    # EmPO assigns roles by position after filtering; a dropped middle row shifts them
    rows = conversation("c1", ["a", "b", "c", "d", "e"])
    rows[1] = ed_row("c1", 2, "   ")
    dialogues, report = ed.load_split("test", make_release({"test": rows}))
    assert report.skipped_rows == {"empty utterance": 1}
    assert [t.text for t in dialogues[0].turns] == ["a", "c", "d", "e"]
    assert ed.example_from(dialogues[0]).reference == "e"


def test_one_turn_conversation_skipped(make_release):
    rows = conversation("c1", ["only"]) + conversation("c2", ["a", "b"])
    examples = ed.load_examples("test", make_release({"test": rows}))
    _, report = ed.load_split("test", make_release({"test": rows}, name="again.tar.gz"))
    assert [e.id for e in examples] == ["c2"]
    assert report.skipped_conversations == {"fewer than 2 utterances": 1}
    assert (report.conversations, report.examples) == (2, 1)


def test_conversation_short_after_filter_skipped(make_release):
    rows = conversation("c1", ["a", "b hit:9"])
    _, report = ed.load_split("test", make_release({"test": rows}))
    assert report.examples == 0
    assert report.skipped_conversations == {"fewer than 2 utterances": 1}


def test_empty_label_conversation_skipped(make_release):
    rows = conversation("c1", ["a", "b"], emotion="") + conversation("c2", ["a", "b"])
    _, report = ed.load_split("test", make_release({"test": rows}))
    assert report.skipped_conversations == {"empty emotion label": 1}
    assert report.examples == 1


def test_malformed_rows_skipped_and_counted(make_release):
    rows = conversation("c1", ["a", "b"]) + [
        "c2,1,sad,p,1,too,many,fields,here",
        "c2,1,sad,p,1",
        "c3,x,sad,p,1,bad index,,",
        ",1,sad,p,1,no conversation id,,",
        b"c4,1,sad,p,1,caf\xe9 latin-1,,",
    ]
    dialogues, report = ed.load_split("test", make_release({"test": rows}))
    assert [d.conv_id for d in dialogues] == ["c1"]
    assert report.skipped_rows == {
        "wrong field count (expected 8)": 2,
        "missing conv_id or non-numeric utterance_idx": 2,
        "bytes that are not UTF-8": 1,
    }
    assert report.rows == 7


def test_repeated_utterance_idx_skips_conversation(make_release):
    rows = [ed_row("c1", 1, "a"), ed_row("c1", 1, "a again"), ed_row("c1", 2, "b")]
    _, report = ed.load_split("test", make_release({"test": rows}))
    assert report.skipped_conversations == {"repeated utterance_idx": 1}


def test_strict_mode_names_file_and_line(make_release):
    rows = conversation("c1", ["a", "b"]) + ["c2,1,sad,p,1,too,many,fields,here"]
    src = make_release({"test": rows})
    with pytest.raises(DataError, match=r"ed\.tar\.gz:empatheticdialogues/test\.csv, line 4: wrong field count"):
        ed.load_split("test", src, strict=True)


def test_strict_mode_on_conversation_problem(make_release):
    src = make_release({"test": conversation("c1", ["only"])})
    with pytest.raises(DataError, match="line 2: conversation c1: fewer than 2 utterances"):
        ed.load_split("test", src, strict=True)


def test_bad_header_is_an_error(make_release, tmp_path):
    import io
    import tarfile

    path = tmp_path / "bad.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = b"a,b,c\n1,2,3\n"
        info = tarfile.TarInfo("empatheticdialogues/test.csv")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(DataError, match="line 1: expected the header"):
        ed.load_split("test", path)


def test_missing_split_and_unknown_split(make_release):
    src = make_release({"train": conversation("c1", ["a", "b"])})
    with pytest.raises(DataError, match="has no empatheticdialogues/test.csv"):
        ed.load_split("test", src)
    with pytest.raises(DataError, match="unknown ED split 'dev'"):
        ed.load_split("dev", src)


def test_extracted_folder_source(tmp_path):
    folder = tmp_path / "release" / "empatheticdialogues"
    folder.mkdir(parents=True)
    rows = [",".join(ed.HEADER)] + conversation("c1", ["a", "b"])
    (folder / "test.csv").write_text("\n".join(rows) + "\n")
    [ex] = ed.load_examples("test", tmp_path / "release")
    assert ex.reference == "b"


def test_crlf_line_endings(make_release):
    rows = [r + "\r" for r in conversation("c1", ["a", "b"])]
    [ex] = ed.load_examples("test", make_release({"test": rows}))
    assert ex.reference == "b"


def test_limit_keeps_file_order(make_release):
    rows = conversation("z", ["a", "b"]) + conversation("a", ["c", "d"]) + conversation("m", ["e", "f"])
    assert [e.id for e in ed.load_examples("test", make_release({"test": rows}), limit=2)] == ["z", "a"]


@pytest.mark.mirror
def test_mirror_test_split_counts(mirror):
    examples = ed.load_examples("test")
    _, report = ed.load_split("test")
    assert 2540 <= len(examples) <= 2547
    assert report.labels == 32
    assert len({e.id for e in examples}) == len(examples)
    assert all(e.context and e.reference and e.prev == e.context[-1] for e in examples)
    assert all(len(e.context) % 2 == 1 for e in examples)  # speaker first and last
