// Package parquet reads Parquet files into batches of records, one record
// per row. It registers the random-access format "parquet" with package
// format (format.NewAt). The reader decodes the footer, reads and
// decompresses pages, and checks them itself (pages.go); values are
// decoded by github.com/parquet-go/parquet-go (pure Go), which also
// assembles rows. Codecs: UNCOMPRESSED, SNAPPY, GZIP, BROTLI, ZSTD and
// LZ4_RAW (the deprecated LZ4 and LZO are refused).
//
// Contract:
//
//   - NewAt reads the footer (the page index only when seeking; never
//     the bloom filters). A file without the PAR1 magic at both ends fails
//     there with "not a Parquet file" (a file cut short says "or
//     truncated"); a footer that does not decode fails with "invalid
//     Parquet footer: ...". Encrypted files, and column chunks in other
//     files, are refused.
//   - Rows are read row group by row group, never the whole file: memory
//     is bounded by the pages of one row group being decoded (each column
//     reads one page ahead, in the background) plus the batch. Next fills
//     one batch at a time, bounded by Options.BatchRows and BatchBytes,
//     like the other readers.
//   - Columns are the top-level fields of the schema, in schema order,
//     and every record has one field per column. Values, by type:
//     integers (INT32, INT64, and the INT(8|16|32|64, signed or not)
//     annotations) are pusher.Number in decimal; FLOAT and DOUBLE are
//     pusher.Number (shortest 'g' form) except NaN and the infinities,
//     which are pusher.String "NaN", "Infinity", "-Infinity"; FLOAT16
//     likewise; BOOLEAN is pusher.Bool; DECIMAL over INT32, INT64,
//     FIXED_LEN_BYTE_ARRAY or BYTE_ARRAY is pusher.Number with the exact
//     decimal text ("-123.4500" at scale 4), never through a float;
//     STRING and ENUM are pusher.String; JSON is pusher.JSON holding the
//     document as stored (any JSON value, scalars included), or
//     pusher.String when it is not valid JSON; UUID is pusher.String in
//     the canonical 8-4-4-4-12 form; BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY
//     without a text annotation (also BSON, geometry) are pusher.String
//     holding the bytes as they are: they are not checked for UTF-8,
//     which is the target's business (older writers store text without an
//     annotation); DATE is "YYYY-MM-DD"; TIME is "HH:MM:SS.fff" with the
//     unit's digits (3, 6 or 9); TIMESTAMP is RFC 3339 with the unit's
//     fraction digits, ending in "Z" when adjusted to UTC and with no zone
//     otherwise; the legacy INT96 timestamp is written like a
//     nanosecond timestamp not adjusted to UTC (as Arrow reads it);
//     INTERVAL is an ISO 8601 duration ("P14M3DT12.345S"). An absent
//     optional value is pusher.Null. Legacy converted types are honoured
//     where there is no logical type.
//   - Groups and repeated fields are pusher.JSON: a struct is an object
//     with its fields in schema order; a LIST, or any repeated field, is
//     an array (the format's backward-compatibility rules for two-level
//     and legacy lists apply); a MAP is an object when its keys are text,
//     else an array of {"key":k,"value":v} objects. Inside JSON, numbers
//     and booleans are JSON numbers and booleans, everything else
//     (timestamps, NaN, binary) a JSON string (invalid UTF-8 becomes
//     U+FFFD). An absent optional group at the top level is pusher.Null;
//     an empty list or map is [] or {}.
//   - Pos().Records counts the rows returned since the start of the file;
//     Pos().Offset is always 0 (Parquet has no byte offset a row starts
//     at). A Reader created at a Position skips start.Records rows: whole
//     row groups by their row counts, then rows within the group by
//     seeking (with the page index, pages before the row are not read).
//     start.Offset is ignored.
//   - A record longer than Options.MaxRecordBytes (the text of its fields)
//     is a *pusher.RecordError (offset -1, no Raw); reading goes on after
//     it. Records read before an error are returned first with a nil
//     error and the error on the next call, so Pos never moves past a bad
//     record. Every other error is final: a page that fails to decode, a
//     read error, values that do not fit the schema; it names the row
//     group (counted from 0) and, for errors in pages, the column's dotted
//     path and the page (counted from 0 in its column chunk, the
//     dictionary page included). A page is checked before it is decoded
//     (it lies within its column chunk; its declared sizes fit the limits
//     below; its CRC, when it has one) and after (its values, nulls and
//     rows match its header and definition levels, so a REQUIRED column's
//     page holding nulls fails; dictionary indexes are in range), and a
//     column chunk's value count must match its metadata. Panics of the
//     decoding library on corrupt data are turned into such errors.
//   - Memory: nothing is allocated from what a page declares before the
//     declaration is checked. A page may declare at most twice
//     MaxRecordBytes and at least 256 MiB uncompressed, at most a
//     sixteenth of that in values, and no more bytes than its values can
//     hold if none is longer than MaxRecordBytes; else reading fails with
//     an error naming --max-record-bytes. A page must decompress to
//     exactly the size it declares.
//   - Close stops the background page readers of the open row group;
//     reading to EOF or to an error closes them too.
//
// Parquet is read with random access, not as a stream cut into blocks, so
// load.Config.ParseWorkers does not apply (the library decodes pages in
// the background itself).
//
// Limitation: a value longer than MaxRecordBytes fails the whole file
// (its page is refused before it is read), not only its records.
package parquet
