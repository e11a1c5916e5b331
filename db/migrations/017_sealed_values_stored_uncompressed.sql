-- Sealed values are stored out of line without trying to compress them (issue 10).
--
-- A sealed field is base64 of AES-GCM ciphertext: it does not compress. A webhook's event holds a ~10 KB sealed
-- transcript, so PostgreSQL tried pglz on every such row before storing it uncompressed anyway; on an ingest run
-- that attempt was a quarter of PostgreSQL's CPU. EXTERNAL keeps large values out of line (TOAST) as before and
-- skips the attempt. Rows already stored are untouched; only new rows are written this way.
alter table events alter column data set storage external;
