"""taxmatch.files: the files a requester or custodian hands taxmatch, read and checked.
Errors name files, lines and columns, never a value.
"""
