"""C2SP signed notes and cosignatures against the vectors of the spec and of
the implementations tools of that ecosystem use: golang.org/x/mod/sumdb/note
(note_test.go: PeterNeumann, EnochRoot), transparency-dev/formats
(note_cosigv1_test.go), transparency-dev/witness (witness_test.go) and a
real sum.golang.org checkpoint. Cosignatures are checked with the
``cryptography`` package's Ed25519, independent of the pynacl code that made them."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.errors import BadNoteSignature, InvalidInput, MalformedNote, UnverifiedNote
from ledger.keys import public_key
from ledger.signed_note import (SIG_COSIGNATURE_V1, SIG_ED25519, Note, NoteSignature, VerifierKey,
                                cosign_note, cosignature_message, cosignature_timestamp, is_key_name, key_id,
                                open_note, sign_note)

# c2sp.org/signed-note, "Verifier keys / Example"
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = ("This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Z"
             "tg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")

# golang.org/x/mod/sumdb/note/note_test.go
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = ("— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6Ryy"
             "BwJnAM=\n")
ENOCH_SIG = ("— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc"
             "+QQ=\n")

# A real checkpoint of Go's checksum database and its key (transparency-dev/witness internal/client/sumdb_test.go)
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_CHECKPOINT = ("go.sum database tree\n1514086\nkn9DgqDhXzoZMM8828SQsbuovr/WRn7QfFd5Qe1rpwA=\n\n— sum.golang.org "
                    "Az3grunuggF5mKymPJeK/l9Pq71lOg/rAVkQVCzGkWRJcnS3ZFunzveHr9PAH8LFsuhpcCWzGDNrn9FFDyXm/66tBg8=\n")

# c2sp.org/tlog-cosignature, the example: the tlog-checkpoint example cosigned by witness.example.com/w1
SPEC_COSIGNED = ("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
                 "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGk"
                 "u9nTo+zyWE+xeMcTOAYQ8=\n"
                 "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nP"
                 "Zqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n")

# transparency-dev/formats note/note_cosigv1_test.go
FORMATS_ED25519_VKEY = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
FORMATS_COSIG_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"

# transparency-dev/witness witness/witness_test.go
WITNESS_SKEY = "PRIVATE+KEY+witness+f13a86db+AaLa/dfyBhyo/m0Z7WCi98ENVZWtrP8pxgRNrx7tIWiA"
WITNESS_VKEY = "witness+f13a86db+AdYV1Ztajd9BvyjP2HgpwrqYL6TjOwIjGMOq8Bu42xbN"


def seed_of(skey: str) -> bytes:
    raw = base64.b64decode(skey.split("+", 4)[4])  # PRIVATE+KEY+<name>+<id>+<base64(type || seed)>
    assert raw[0] == SIG_ED25519
    return raw[1:]


def vkeys(*texts: str) -> list[VerifierKey]:
    return [VerifierKey.from_text(t) for t in texts]


# -- key IDs and verifier keys -------------------------------------------------------------


@pytest.mark.parametrize("vkey", [SPEC_VKEY, PETER_VKEY, ENOCH_VKEY, SUMDB_VKEY, FORMATS_ED25519_VKEY,
                                  WITNESS_VKEY, FORMATS_COSIG_VKEY])
def test_published_verifier_keys_parse_and_their_key_ids_are_the_spec_hash(vkey):
    name, hex_id, key64 = vkey.split("+", 2)
    key = VerifierKey.from_text(vkey)
    assert hashlib.sha256(name.encode() + b"\n" + base64.b64decode(key64)).digest()[:4].hex() == hex_id
    assert (key.name, f"{key.key_id:08x}", key.text) == (name, hex_id, vkey)


def test_key_ids_of_the_spec_and_go_examples():
    assert VerifierKey.from_text(SPEC_VKEY).key_id == 0x530D903A
    assert VerifierKey.from_text(PETER_VKEY).key_id == 0xC74F20A3
    pk = public_key(seed_of(PETER_SKEY))
    assert key_id("PeterNeumann", SIG_ED25519, pk) == 0xC74F20A3
    assert VerifierKey.of("PeterNeumann", pk).text == PETER_VKEY
    assert key_id("witness", SIG_ED25519, public_key(seed_of(WITNESS_SKEY))) == 0xF13A86DB
    remora = VerifierKey.from_text(FORMATS_COSIG_VKEY)
    assert remora.key_type == SIG_COSIGNATURE_V1 and remora.key_id == 0xDA77ADE7


def test_every_mangling_of_a_verifier_key_is_refused():
    """sumdb/note TestNewVerifier: every proper substring and every byte incremented."""
    b = PETER_VKEY.encode()
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if (i, j) != (0, len(b)):
                with pytest.raises(InvalidInput):
                    VerifierKey.from_text(b[i:j].decode())
    for i in range(len(b)):
        mangled = bytearray(b)
        mangled[i] += 1
        with pytest.raises(InvalidInput):
            VerifierKey.from_text(mangled.decode())


@pytest.mark.parametrize("vkey", [
    "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",  # wrong length key
    "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown algorithm
    "bananas.sigstore.dev+12344556",  # formats: wrong number of parts
    "rekor.sigstore.dev+12345678+THIS_IS_NOT_BASE64!",
    "rekor.sigstore.dev+12345678+AwEB",  # unknown algorithm
    "bad name+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
])
def test_bad_verifier_keys_are_refused(vkey):
    with pytest.raises(InvalidInput):
        VerifierKey.from_text(vkey)


@pytest.mark.parametrize("name, ok", [("example.com/foo", True), ("Tỉnh/ủy", True), ("", False), ("a+b", False),
                                      ("a b", False), ("a\u00a0b", False), ("a\u3000b", False), ("a\u2028b", False),
                                      ("a\tb", False), ("a\u200bb", True)])
def test_key_names_exclude_unicode_white_space_and_plus(name, ok):
    assert is_key_name(name) is ok


# -- signing and opening -------------------------------------------------------------------


def test_spec_example_note_verifies():
    opened = open_note(SPEC_NOTE, vkeys(SPEC_VKEY))
    assert opened.text == "This is an example message.\n"
    assert [k.text for k, _ in opened.verified] == [SPEC_VKEY]


def test_signing_reproduces_sumdb_notes_output_byte_for_byte():
    sig = sign_note(TEXT, "PeterNeumann", seed_of(PETER_SKEY))
    note = Note(text=TEXT, signatures=(sig,)).to_bytes().decode()
    assert note == TEXT + "\n" + PETER_SIG


def test_open_keeps_unknown_signatures_aside_and_verifies_known_ones():
    msg = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    one = open_note(msg, vkeys(PETER_VKEY))
    assert [k.name for k, _ in one.verified] == ["PeterNeumann"] and [s.name for s in one.unverified] == ["EnochRoot"]
    both = open_note(msg, vkeys(PETER_VKEY, ENOCH_VKEY))
    assert [k.name for k, _ in both.verified] == ["PeterNeumann", "EnochRoot"] and not both.unverified
    with pytest.raises(UnverifiedNote):
        open_note(msg, [])


def test_open_drops_repeated_signatures():
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    opened = open_note(TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd, vkeys(PETER_VKEY))
    assert len(opened.verified) == 1 and len(opened.unverified) == 2


def test_a_known_keys_bad_signature_fails_the_note():
    with pytest.raises(BadNoteSignature) as info:
        open_note(TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], vkeys(PETER_VKEY))
    assert "PeterNeumann+c74f20a3" in str(info.value)
    assert info.value.field == "note.signatures[0]" and info.value.to_dict()["field"] == "note.signatures[0]"


def test_the_same_key_trusted_twice_is_ambiguous_only_when_it_signed():
    with pytest.raises(InvalidInput, match="ambiguous key EnochRoot"):
        open_note(TEXT + "\n" + ENOCH_SIG, vkeys(ENOCH_VKEY, PETER_VKEY, ENOCH_VKEY))
    open_note(TEXT + "\n" + PETER_SIG, vkeys(ENOCH_VKEY, PETER_VKEY, ENOCH_VKEY))


@pytest.mark.parametrize("msg", [
    TEXT,
    TEXT + "\n",
    TEXT + "\n" + PETER_SIG[:-1],
    "\x01" + TEXT + "\n" + PETER_SIG,
    TEXT + "\n" + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
    TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
    TEXT + "\n" + PETER_SIG * 101,
    TEXT + "\n" + "— PeterNeumann AAAA\n",  # fewer than 5 bytes
    TEXT + "\n" + "— PeterNeumann x08go/ZJ!!\n",
    TEXT + "\r\n" + PETER_SIG,
])
def test_malformed_notes_are_refused(msg):
    with pytest.raises(MalformedNote):
        open_note(msg, vkeys(PETER_VKEY))


def test_invalid_utf8_is_refused():
    with pytest.raises(MalformedNote, match="UTF-8"):
        open_note(b"\xff" + TEXT.encode() + b"\n" + PETER_SIG.encode(), vkeys(PETER_VKEY))


def test_a_real_sum_golang_org_checkpoint_verifies_and_an_altered_one_does_not():
    open_note(SUMDB_CHECKPOINT, vkeys(SUMDB_VKEY))
    with pytest.raises(BadNoteSignature):
        open_note(SUMDB_CHECKPOINT.replace("1514086", "1514087"), vkeys(SUMDB_VKEY))


def test_sixteen_signatures_are_accepted():
    seeds = [bytes([i]) * 32 for i in range(1, 17)]
    text = "origin\n1\n" + base64.b64encode(bytes(32)).decode() + "\n"
    note = Note(text=text, signatures=tuple(sign_note(text, f"k{i}", s) for i, s in enumerate(seeds)))
    opened = open_note(note.to_bytes(), [VerifierKey.of(f"k{i}", public_key(s)) for i, s in enumerate(seeds)])
    assert len(opened.verified) == 16


def test_signing_refuses_text_a_note_cannot_hold():
    for text in ("no newline", "nul\x00byte\n"):
        with pytest.raises(MalformedNote):
            sign_note(text, "k", bytes(32))


# -- cosignatures (c2sp.org/tlog-cosignature) -------------------------------------------------------


def test_cosignature_message_is_the_specs_example():
    text = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert cosignature_message(1679315147, text) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")


def test_cosignature_checked_independently():
    """A witness's cosignature: key ID over type 0x04, timestamp || Ed25519 over the
    cosignature/v1 message, verified with `cryptography` rather than pynacl."""
    seed = seed_of(WITNESS_SKEY)
    pk = public_key(seed)
    text = "monkeys\n5\n41smjBUiAU70EtKlT6lIOIYtRTYxYXsDB+XHfcvu/BE=\n"
    sig = cosign_note(text, "witness", seed, 1_700_000_000)
    assert sig.key_id == int.from_bytes(hashlib.sha256(b"witness\n\x04" + pk).digest()[:4], "big")
    assert sig.key_id != 0xF13A86DB  # the same key's type 0x01 ID differs
    assert cosignature_timestamp(sig) == 1_700_000_000 and sig.signature[:8] == (1_700_000_000).to_bytes(8, "big")
    message = b"cosignature/v1\ntime 1700000000\n" + text.encode()
    Ed25519PublicKey.from_public_bytes(pk).verify(sig.signature[8:], message)  # raises if it does not verify
    line = sig.line
    assert line.startswith("— witness ") and line.endswith("\n")
    assert base64.b64decode(line.split(" ")[2])[:4] == sig.key_id.to_bytes(4, "big")
    cosigner = VerifierKey.of("witness", pk, SIG_COSIGNATURE_V1)
    assert cosigner.text.startswith("witness+") and base64.b64decode(cosigner.text.split("+")[2])[0] == 4
    opened = open_note(text + "\n" + line, [cosigner])
    assert opened.verified[0][0] == cosigner
    # the note signer (type 0x01) of the same key does not take it for its own
    with pytest.raises(UnverifiedNote):
        open_note(text + "\n" + line, [VerifierKey.of("witness", pk)])
    # another time, another text: no
    forged = NoteSignature(name="witness", key_id=sig.key_id,
                           signature=(1_700_000_001).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(BadNoteSignature):
        open_note(text + "\n" + forged.line, [cosigner])


def test_cosignature_timestamps_must_be_positive():
    with pytest.raises(InvalidInput):
        cosign_note("a\n1\nb\n", "w", bytes(32), 0)


def test_the_specs_cosigned_checkpoint_reads_as_key_id_time_and_signature():
    """tlog-cosignature's example, byte for byte: the witness line is a 4-byte key ID, the
    8-byte big-endian time of the spec's signed-message example (1679315147) and a 64-byte
    signature; the log's line is a 4-byte key ID and a 64-byte Ed25519 signature."""
    note = Note.parse(SPEC_COSIGNED)
    assert note.text == "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    log_line, cosig = note.signatures
    assert (log_line.name, log_line.key_id, len(log_line.signature)) == ("example.com/behind-the-sofa", 0x033DE0AE, 64)
    assert (cosig.name, cosig.key_id, len(cosig.signature)) == ("witness.example.com/w1", 0x8D66CF3F, 72)
    assert cosignature_timestamp(cosig) == 1679315147
    assert cosignature_message(cosignature_timestamp(cosig), note.text.encode()) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
    assert note.to_bytes().decode() == SPEC_COSIGNED  # written back byte for byte
    # a cosignature we make at that time lays out its bytes the same way
    ours = cosign_note(note.text, "witness.example.com/w1", seed_of(WITNESS_SKEY), 1679315147)
    assert ours.signature[:8] == cosig.signature[:8] == bytes.fromhex("00000000641850cb")
    assert ours.line.startswith("— witness.example.com/w1 ") and len(ours.line) == len(cosig.line)
    # neither line's key is known here: both are kept aside, and the note is not trusted
    with pytest.raises(UnverifiedNote, match="2 from other keys") as info:
        open_note(SPEC_COSIGNED, vkeys(PETER_VKEY), "checkpoint")
    assert info.value.to_dict()["field"] == "checkpoint.signatures"
