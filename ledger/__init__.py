"""minutebook's ledger: canonical signed documents, the registry state machine,
blocks and certificates, the RFC 9162 document log and its LevelDB store.

The names below are the public surface; the submodules hold the rest
(``ledger.merkle`` for proof functions that need only hashlib,
``ledger.schemas`` for the document body schemas as data).
"""

from ledger.blocks import (ACCEPTED, REJECTED, Block, BlockProposal, BlockSignature, DocumentStatus, Header,
                           TreeHead, check_certificate, quorum_size)
from ledger.documents import DOC_TYPES, Document, Envelope, Signature, make_envelope, sign_document
from ledger.encoding import MAX_DOCUMENT_BYTES, canonical, decode_canonical, normalize
from ledger.errors import (AlreadyCommitted, BadRequestSignature, BadSignature, CorruptionError, DuplicateRecord,
                           InvalidInput, KeyFileError, MinutebookError, NotCanonical, NotFound, NotPermitted,
                           ProofFailed, Rejected, RootMismatch, TooLarge)
from ledger.genesis import Genesis
from ledger.keys import (BLOCK_DOMAIN, DOC_DOMAIN, KeyFile, generate_seed, public_key, read_key_file, sign, verify,
                         write_key_file)
from ledger.ledger import Ledger
from ledger.merkle_log import MerkleLog
from ledger.receipts import Receipt
from ledger.registry import Registry
from ledger.sealing import SealedBox
from ledger.store import LevelDBStore, MemoryStore, Overlay, Store

__all__ = [
    # documents and signatures
    "Document", "Signature", "Envelope", "make_envelope", "sign_document", "DOC_TYPES",
    "canonical", "decode_canonical", "normalize", "MAX_DOCUMENT_BYTES",
    "KeyFile", "generate_seed", "public_key", "sign", "verify", "read_key_file", "write_key_file",
    "DOC_DOMAIN", "BLOCK_DOMAIN",
    # state
    "Genesis", "Registry", "Ledger", "MerkleLog", "Store", "MemoryStore", "LevelDBStore", "Overlay",
    # blocks and proofs
    "BlockProposal", "Header", "Block", "BlockSignature", "DocumentStatus", "TreeHead", "ACCEPTED", "REJECTED",
    "check_certificate", "quorum_size", "Receipt", "SealedBox",
    # errors
    "MinutebookError", "InvalidInput", "NotCanonical", "TooLarge", "BadSignature", "BadRequestSignature",
    "NotPermitted", "Rejected", "DuplicateRecord",
    "AlreadyCommitted", "NotFound", "KeyFileError", "ProofFailed", "RootMismatch", "CorruptionError",
]
