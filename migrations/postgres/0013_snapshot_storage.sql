-- A snapshot body is read whole at every start and is mostly numbers and index files: PostgreSQL's
-- own compression (pglz) halved the item space's 2.4 MB but cost ~12 ms of decompression in each
-- start's critical path (measured: md5 over the body 17.7 ms compressed against 9.0 ms for the
-- uncompressed 3 MB search index). Stored out of line without compression from the next save on.
-- (SQLite does not compress: no counterpart there.)
ALTER TABLE state_snapshot ALTER COLUMN body SET STORAGE EXTERNAL;
