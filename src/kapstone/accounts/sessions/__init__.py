"""Session stores (SESSION_ENGINE): Django's database and cached-database stores, with a change to how the idle
sign-out's expiry is pushed forward.

Every request saves its session (SESSION_SAVE_EVERY_REQUEST) so that the expiry moves to fifteen minutes after
it. On PostgreSQL that save rewrote the row in a commit waited on for the disk, a few milliseconds on every page
(issue 19). When the request changed nothing in the session, the save now only moves the row's expiry on (an
expired or deleted row is not brought back), in a commit that does not wait for the disk: the new expiry is
visible at once and reaches the disk a moment later with the next flush. A database crash in that moment can lose
only expiry pushes, which leaves a session to end at its previous, earlier expiry: never a longer session than
the idle limit allows. A save that changes the session (a sign-in, a verified second factor, a message) or creates
it is Django's own, waited on as before, and so is a sign-out, which deletes the row.

Both also take a session cookie whose key no store could have made (not letters and digits, or too long) for no
session, before it reaches the database or the cache: PostgreSQL refuses a NUL in text, and a cookie may spell one.
"""
