// Package csv reads CSV (RFC 4180) and TSV streams into batches of records.
//
// It registers the formats "csv" and "tsv" with package format; "tsv" is the
// same reader with a tab delimiter.
//
// Contract:
//
//   - The stream is read in large blocks into one reused buffer; a record
//     split across blocks is carried over. Values are copied into the
//     batch's shared buffer: no allocation per field or per record.
//   - Fields are separated by Options.Delimiter. A field that starts with a
//     double quote is quoted: it may hold delimiters, line breaks and ""
//     for a literal quote, and it must be followed by a delimiter or the end
//     of the record. A quote anywhere else is an error. Records end with LF
//     or CRLF (the CR is dropped; CRs inside quotes are kept as written), or
//     at the end of the stream. A UTF-8 byte order mark at the start of the
//     stream is dropped. A line with no bytes is skipped; it is not a record
//     but it counts in byte offsets.
//   - With Options.Header the first record names the columns (trimmed; an
//     empty name becomes column_N, a duplicate name is an error). Otherwise
//     Options.Columns names them, or, when empty, column_1..column_N after
//     the width of the file's first well-formed record (which a resumed
//     Reader reads again). Every record must have exactly one field per
//     column.
//   - A record longer than Options.MaxRecordBytes (the bytes before its final
//     LF, less the CR of a CRLF) is a bad record; the buffer never grows much
//     past that bound.
//   - An unquoted field equal to Options.NullString is source.Null; every
//     other field is source.String.
//   - Pos is the position just after the last record returned: the number
//     of data records from the start of the file (the header is not one)
//     and the byte offset after that record's line terminator. A Reader
//     created at such a position reads the header, skips to the offset
//     without parsing, and continues with the next record.
//   - A bad record is a *source.RecordError with its 1-based ordinal and the
//     byte offset where it starts. Records read before it in the same call
//     are returned first (with a nil error) and the error on the next call,
//     so Pos never moves past a bad record. Next may be called again after
//     a RecordError: reading continues after the bad record (for malformed
//     quoting, at the next line), and the bad record keeps its ordinal.
//     Any other error (reading the stream, a bad header) is final.
package csv
