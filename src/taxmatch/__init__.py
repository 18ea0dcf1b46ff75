"""taxmatch — a tax authority's disclosure-matching service.

Validates law-enforcement disclosure requests against 26 U.S.C. § 6103(i)(2) and the
agencies' agreement, matches the valid ones against the taxpayer master file, and
discloses an address only for a confident, unique, address-corroborated match.
"""

__version__ = "0.1.0"
