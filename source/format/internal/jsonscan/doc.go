// Package jsonscan is the JSON scanner the JSON-lines and JSON document
// readers share. It works on bytes already in memory (a line, or the part
// of a read buffer that holds one value) and maps objects onto the columns
// of a pusher.Batch without allocating per field.
//
// Objects become records: each top-level key is a column (Decoder keeps
// the columns in order of first appearance), a string value is
// pusher.String holding the unescaped UTF-8 (an unpaired surrogate escape
// becomes U+FFFD, as in encoding/json), a number is pusher.Number as
// written, true and false are pusher.Bool, null is pusher.Null, and an
// object or array is pusher.JSON holding its bytes exactly as written,
// validated, nested at most MaxDepth deep (the record's object counts as
// one level). A key repeated in one object: the last value wins. Bytes are
// not checked for valid UTF-8, as in encoding/json.
//
// Errors are *SyntaxError (invalid JSON at a byte index of the data) or
// ErrTooDeep.
package jsonscan
