"""Every threshold the matcher uses, named once (``levels`` renders them into Splink's SQL
and the lookup's predicates; ``rules`` and ``mend`` read them). Three more are policy, set
per deployment in the policy YAML and passed in by the pipeline:

- ``matching.review_threshold``: a person at or above this match probability is a
  candidate;
- ``matching.min_margin_log2``: a rival within this many bits of the best person is a
  candidate too;
- ``matching.disclose_threshold``: the decision rule discloses only at or above this
  probability.
"""

from __future__ import annotations

from taxmatch.normalise.typos import TYPO_MIN_LETTERS as TYPO_MIN_LETTERS
from taxmatch.normalise.typos import TYPO_SHARE_RATIO as TYPO_SHARE_RATIO

# --- comparison levels (Jaro-Winkler similarity, edit distances, days) -----------------
FIRST_NAME_JW = 0.92
LAST_NAME_JW = 0.92
# The same street, mistyped: a comparison level, and the requester's address corroborates
# a filed one with the same house number on a street at least this similar.
STREET_JW = 0.88
CITY_JW = 0.9
HOUSE_NUMBER_LEVENSHTEIN = 1
# Dates of birth within this many days (or day and month swapped) are one person's; a
# level, and further apart an identifier conflict.
DOB_WINDOW_DAYS = 366
TIN_HAMMING = 1

# --- scoring -----------------------------------------------------------------------------
# Pairs below this probability are not kept: they can neither be the best person nor
# narrow the margin of one that reaches the review threshold.
CANDIDATE_FLOOR = 0.01
# A similarity this close to a threshold is not trusted to fall on the same side as
# DuckDB's (its last bits may differ from rapidfuzz's): such a lookup takes Splink's SQL.
SIMILARITY_EPSILON = 1e-9

# --- mending the disclosed address ---------------------------------------------------------
# A filed street or address line this similar to another the person filed is the same
# address, mistyped.
MEND_SIMILAR = 0.85
# A "slip" address with more filings than this (by anyone) is a real address.
MAX_SLIP_SUPPORT = 50
# Two ZIPs at most ``ZIP_SLIP_DIGITS`` digits apart are one ZIP mistyped
# (``similarity.zip_typo``) where the house number and street are the same: a requester's
# address corroborates such a filing. The custodian's own record is held to the door, not
# the digits: a ZIP on a latest filing made one year at a door (house number, street,
# unit, town) the person filed under another ZIP gives way to that ZIP when the person
# filed it in at least ``ZIP_CONSENSUS_YEARS`` other years (``mend.zip_slip``), or in a
# year where others filed it at least ``ZIP_CONSENSUS_OTHERS`` times.
ZIP_SLIP_DIGITS = 2
ZIP_CONSENSUS_YEARS = 2
ZIP_CONSENSUS_OTHERS = 2
# A filing's blank ZIP is its door's (``blanks.door_zip``) where one ZIP carries at least
# this share of the filings at that door in that town: a busy door's own filings hold
# ZIP typos too.
DOOR_ZIP_SHARE = 0.9
# A new door filed one year with a house number at most this many edits from one the
# person filed on the same street (``variant.door_variant``) is a typo or a move nearby.
VARIANT_HOUSE_EDITS = 2

# --- a misspelt first name -----------------------------------------------------------------
# A request first name agrees with a filed one a keystroke away when both have at least
# ``TYPO_MIN_LETTERS`` letters and the request's name is at most ``TYPO_SHARE_RATIO`` as
# common among persons as the filed one (``normalise.typos.fixable``). Declared in
# ``normalise.typos``, below the generator and the shadow probes, which apply the same rule.
# (imported above: TYPO_MIN_LETTERS = 4, TYPO_SHARE_RATIO = 0.01)

# --- ranking persons -----------------------------------------------------------------------
# A margin wider than this many bits means there was no runner-up person.
NO_RIVAL_BITS = 1e8
NO_RIVAL_WEIGHT = -1e9
