-- Sealed values are stored out of line without trying to compress them (issue 10).
--
-- A sealed field is base64 of AES-GCM ciphertext, and a blind search vector is hex tokens: neither compresses
-- by the quarter pglz asks for. A webhook's event holds a ~10 KB sealed transcript, so PostgreSQL tried pglz on
-- every such row before storing it uncompressed anyway; on an ingest run that attempt was a quarter of
-- PostgreSQL's CPU. call_logs rows (sealed transcript and summary, the search vector) go the same way in every
-- projection write and rebuild. EXTERNAL keeps large values out of line (TOAST) as before and skips the attempt.
-- A rebuild's copy of call_logs takes the setting with the table (LIKE … INCLUDING ALL). Stored rows are
-- untouched; new rows are written this way.
alter table events alter column data set storage external;
alter table call_logs
  alter column transcript set storage external,
  alter column summary set storage external,
  alter column search set storage external;
