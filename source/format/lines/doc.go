// Package lines reads text line by line into batches of records: plain
// lines, or lines split into columns by a regular expression (log files).
// It registers the format "lines" with package format.
//
// Contract:
//
//   - The stream is read in large blocks into one reused buffer; a line
//     split across blocks is carried over. Lines end with LF or CRLF (the CR
//     is dropped; a lone CR elsewhere is kept), or at the end of the stream
//     (a last line without LF is a line). A UTF-8 byte order mark at the
//     start of the stream is dropped.
//   - A blank line (no bytes, or only the CR of a CRLF) is skipped in both
//     modes below: it is not a record but it counts in byte offsets. A line
//     of spaces is not blank.
//   - Without Options.Regex and Options.Preset, each line is one record with
//     one column, "line" (pusher.String), holding the line without its
//     terminator.
//   - With Options.Regex (RE2 syntax, see package regexp), the columns are
//     the regex's named groups, in order; it must have at least one. A name
//     given to several groups is one column, for alternatives such as
//     (?:"(?P<x>[^"]*)"|(?P<x>[^ ]+)): its value is that of the first of
//     them that took part in the match. The regex is applied to each line
//     as given: it is not anchored unless it says so (^...$). A line it
//     does not match is a bad record ("line does not match the pattern").
//     A named group that did not take part in the match is pusher.Null;
//     every other is pusher.String holding the bytes it matched, as
//     written (escapes in the log are not decoded; "-" stays the string
//     "-").
//   - Options.Preset names a ready-made regex (see Presets; Regex must then
//     be empty). Presets are anchored, tolerate fields appended after the
//     ones they know (AWS adds fields to its logs over time), and, because
//     these logs write "-" for an absent value, a field that is exactly "-"
//     is pusher.Null.
//   - A line longer than Options.MaxRecordBytes (not counting the CR of a
//     CRLF) is a bad record ("line longer than N bytes"); it is skipped to
//     its end and the buffer never grows much past that bound.
//   - Values are copied into the batch's shared buffer: no allocation per
//     field; matching a regex allocates the match indices once per line.
//     A preset is read by a hand-written scanner that gives the same
//     columns as its regex for every line, an order of magnitude faster
//     and without allocating; a line the scanner cannot decide cheaply
//     goes to the regex.
//   - Pos is the position just after the last record returned: its ordinal
//     (counting good and bad records from the start of the file; blank lines
//     are not records) and the byte offset after its line terminator. A
//     Reader created at such a position skips to the offset without parsing
//     and continues with the next line.
//   - A bad line is a *pusher.RecordError with its 1-based ordinal, the
//     byte offset where the line starts and Raw, the line without its
//     terminator (at most pusher.MaxRawBytes of it). Records read before it
//     in the same call are returned first (with a nil error) and the error
//     on the next call, so Pos never moves past a bad record. Next may be
//     called again after a RecordError: reading continues with the next
//     line. Any other error (reading the stream) is final; a bad Regex or
//     Preset is an error from New.
//   - The Reader is a format.Splitter: the stream is cut at LFs.
package lines
