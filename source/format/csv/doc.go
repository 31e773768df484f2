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
//   - Fields are separated by Options.Delimiter. A field that starts with
//     Options.Quote (default '"') is quoted: it may hold delimiters, line
//     breaks and the quote doubled for a literal quote, and it must be
//     followed by a delimiter or the end of the record. A quote anywhere
//     else is an error. With Options.Escape set (and not the quote), inside
//     a quoted field the escape byte makes the next byte literal (\" is a
//     quote, \\ a backslash, \n the letter n); outside quotes it is an
//     ordinary byte. Records end with LF or CRLF (the CR is dropped; CRs
//     inside quotes are kept as written), or at the end of the stream. A
//     UTF-8 byte order mark at the start of the stream is dropped. A line
//     with no bytes is skipped; it is not a record but it counts in byte
//     offsets.
//   - With Options.Comment set, a line whose first byte is the comment byte
//     is skipped like an empty line (before the header too); the byte
//     starts a comment only where a record would start, not inside a
//     quoted field. Options.SkipRows drops that many physical lines (ended
//     by LF, whatever their quotes) from the start of the stream, before
//     anything else, BOM included; they count in byte offsets. The
//     delimiter, quote, escape and comment bytes must differ and none may
//     be CR or LF.
//   - With Options.Header the first record names the columns, made unique:
//     trimmed, an empty name becomes column_N (N its 1-based position), a
//     name already taken by an earlier column gets the first free suffix
//     _2, _3, ... (a,a,,a reads as a, a_2, column_3, a_3). Otherwise
//     Options.Columns names them, or, when empty, column_1..column_N after
//     the width of the file's first well-formed record (which a resumed
//     Reader reads again). Every record must have exactly one field per
//     column.
//   - A record longer than Options.MaxRecordBytes (the bytes before its final
//     LF, less the CR of a CRLF) is a bad record; the buffer never grows much
//     past that bound.
//   - An unquoted field equal to Options.NullString is pusher.Null; every
//     other field is pusher.String.
//   - Pos is the position just after the last record returned: the number
//     of data records from the start of the file (the header is not one)
//     and the byte offset after that record's line terminator. A Reader
//     created at such a position skips Options.SkipRows lines, reads the
//     header, skips to the offset without parsing, and continues with the
//     next record.
//   - A bad record is a *pusher.RecordError with its 1-based ordinal, the
//     byte offset where it starts and Raw, its bytes as read without the
//     final line terminator (at most pusher.MaxRawBytes of them): for
//     malformed quoting, from the record's start to where reading resumes;
//     for an over-long record, its first bytes. Records read before it in
//     the same call are returned first (with a nil error) and the error on
//     the next call, so Pos never moves past a bad record. Next may be
//     called again after a RecordError: reading continues after the bad
//     record (for malformed quoting, at the next line), and the bad record
//     keeps its ordinal. Any other error (reading the stream, a bad header,
//     bad options) is final.
//   - The Reader is a format.Splitter when Options.Escape is unset (or the
//     quote) and Options.Comment is unset: after the header, the stream is
//     cut at an LF preceded by an even number of quotes, which in
//     well-formed CSV ends a record. A malformed record other than one
//     with the wrong number of fields may put the quote count out of step
//     with the records, so the stream from it on is read again
//     sequentially (format.Split.Realign).
package csv
