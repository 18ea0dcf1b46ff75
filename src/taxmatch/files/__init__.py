"""taxmatch.files: the files a requester or custodian hands taxmatch, read and checked.

``inputs`` (hashes, the batch envelope, the policy file, the master file) and the
request-file readers (``readers``, over ``reader_text`` for CSV and JSON Lines text and
``reader_rows`` for making each row safe to carry on). Errors name files, lines and
columns, never a value.
"""
