"""Person resolution rules: which clusters of filings are one person. Pure.

``reference.persons`` gathers the rows and applies the decisions; here, plain functions over
typed records (``records``) judge one pair or group (``rules``) and turn a rule's judged
pairs into merges (``edges``). Nothing here logs, raises on odd input or does I/O.

Rules (merging two people discloses the wrong person's address, the worst error; splitting
one person only costs recall, so every merge needs several independent agreements):

1. Start with one cluster per TIN. A filing without a TIN is a person of its own.
2. Split: a filing whose last_key and first name (``given_names_agree``) both disagree
   with its TIN's modal name, and whose date of birth differs from the TIN's modal date of
   birth when both are present, is another person's filing (a keyed-wrong TIN that hit a
   real TIN): it leaves for a fragment cluster ``tin~hash(name, dob)``.
3. Merge a one-off cluster (filings in a single tax year, a keyed-wrong TIN) into another
   cluster when all hold: the TINs are adjacent (one digit changed or two neighbours
   swapped; a one-off TIN of eight or ten digits, read from one keyed with a character
   that is no digit or a digit too many, is adjacent to the nine-digit TINs one digit put
   back or taken out gives), the modal first names agree, the modal last_keys are equal
   and non-empty, the suffixes and middle names do not conflict, and either both modal
   dates of birth are present and equal or (one is missing) the one-off's address agrees
   with the other's in its nearest filing year on either side (or the same year): the
   house number (or PO box) and ZIP5 at most three years away, the whole door (house
   number, street and ZIP5, no other unit) further away. Never when both dates of birth are present
   and differ; never when the one-off has more than one such candidate. Only one-offs
   move, each to one target, so two multi-year TINs never end up in one person.
4. A one-year name typo under a TIN stays (rule 2 needs both names to disagree).
5. Father and son (Jr/Sr) or twins at one address keep their own TINs and so stay apart.
6. TIN succession: a person (after rule 3) under an ITIN joins the person under an SSN
   when every ITIN filing year is before every SSN filing year, the modal first names
   agree, the modal last_keys are equal and non-empty, suffixes and middle names do not
   conflict, and either both modal dates of birth are present and equal or (one is
   missing) the house number (or PO box) and ZIP5 of the ITIN's last filing year equal
   those of the SSN's first filing year and the suffixes are equal (a father filing as SR
   and a son whose one return dropped JR share a name and a house). Only when the pairing
   is one to one: the ITIN person has exactly one such SSN person and that SSN person
   exactly one such ITIN person. The SSN's cluster stays the person's canonical key.
7. A return on someone else's TIN: a person (after rule 6) with one or two filings that
   is a rule-2 fragment, or a TIN filed in a single tax year, joins another person when
   all hold: the modal first names agree, the modal last_keys are equal and non-empty,
   the suffixes are equal, no middle-name conflict, dates of birth present on both sides
   and equal or on neither, the other person filed in none of the fragment's years, and
   a fragment filing's house number, street and ZIP5 (and no other unit) equal those of
   a filing of the other person at most three years apart. Only into a person that is
   not itself such a fragment, only when exactly one person qualifies, and never two
   fragments with a tax year in common into one person. (A daughter's one return without
   a DOB at the house of her mother of the same name, who skipped that year, would
   otherwise join the mother.)

Rules 6 and 7 never merge two clusters that both have filings in the same tax year.
"""
