// Package postgres is the PostgreSQL target. Each chunk is written with one
// binary COPY inside one transaction; when progress state lives in the same
// database (Config.StateInTx), the file's new position is advanced in that
// transaction too, guarded by the position the chunk starts at, so a
// chunk's rows and its progress commit together or not at all: a file
// resumed at its committed position writes no row twice, and a chunk
// written again from an old position is refused (state/postgres.ErrConflict).
//
// A missing table is created from the first chunk's columns, with types
// given by Config.Columns or inferred from a sample of its records, and
// marked as ferry's: a value that does not fit a column of such a table
// widens the column (schema.go) and the chunk is written again.
//
// Field values are converted to the column types on the client (see
// encode.go) and sent in PostgreSQL's binary COPY format, which costs the
// server less than parsing text. A value that does not convert, or a row
// the server refuses (NOT NULL, length, check), fails the chunk with a
// *pusher.RecordError naming the record; nothing of that chunk is written.
// Under Config.SkipRecords such a record becomes a reject instead: the
// chunk is written without it, and the chunk's rejects (the reader's and
// the target's) are recorded in ferry.rejects in the chunk's transaction,
// unless they are more than Chunk.RejectLimit, which fails the chunk.
//
// Under Config.MergeKey, a chunk's COPY goes into a temporary table and
// is upserted from there (INSERT ... ON CONFLICT on the key, the last
// record of a key in file order winning), in the same transaction, with
// the same progress (merge.go).
//
// New and Write classify their errors (state/postgres.Classify): a server
// that is down, restarting or overloaded, or a connection that broke, is
// pusher.ClassUnavailable; a chunk whose file another process moved is
// pusher.ClassRetry; a bad record or value is pusher.ClassData.
//
// Column and table names are always quoted identifiers, never SQL text.
package postgres
