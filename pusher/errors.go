package pusher

import "fmt"

// RecordError is a bad record: it names the record ordinal (1-based), the
// byte offset where the record starts in the decompressed stream (-1 when
// unknown) and the reason.
type RecordError struct {
	Record int64
	Offset int64
	Err    error
	// Raw is the record as read, cut at MaxRawBytes (nil when unknown),
	// kept with rejected records.
	Raw []byte
}

// MaxRawBytes bounds RecordError.Raw.
const MaxRawBytes = 4096

// CutRaw copies at most MaxRawBytes of b, for RecordError.Raw.
func CutRaw(b []byte) []byte {
	if len(b) > MaxRawBytes {
		b = b[:MaxRawBytes]
	}
	return append([]byte(nil), b...)
}

func (e *RecordError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("record %d (byte %d): %v", e.Record, e.Offset, e.Err)
	}
	return fmt.Sprintf("record %d: %v", e.Record, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// FileError is an error while loading one file.
type FileError struct {
	Key string
	Err error
}

func (e *FileError) Error() string { return fmt.Sprintf("file %q: %v", e.Key, e.Err) }

func (e *FileError) Unwrap() error { return e.Err }
