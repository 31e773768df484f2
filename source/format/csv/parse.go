package csv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/ferrydata/ferry/pusher"
)

var (
	errBareQuote    = errors.New(`bare " in non-quoted field`)
	errExtraneous   = errors.New("extraneous character after closing quote")
	errUnterminated = errors.New("unterminated quoted field")
)

// parse reads one record from buf[p:n] into b. On stOK it returns the
// number of fields and p is just after the record's terminator; on stSkip
// p has moved past bytes that hold no record; on stMore and stEOF nothing
// changed. A malformed record is returned as a *pusher.RecordError, with the
// record dropped from b and p (or the discard state) past it.
//
// The common path costs a few bytes.IndexByte calls per line and field:
// the line end, the first quote of the line and each delimiter.
//
// Record length: a record is too long when the bytes before its final LF
// (less a CR before it) exceed MaxRecordBytes. So that the outcome does not
// depend on how reads split the stream, a malformed record is reported as
// too long when a reader holding less of it would have given up waiting
// for its end (see bad).
func (r *Reader) parse(b *pusher.Batch) (st, nf int, err error) {
	data := r.Buf[r.P:r.N]
	atEOF := r.EOF
	r.recStart = r.Base + int64(r.P)
	if len(data) == 0 {
		if atEOF {
			return stEOF, 0, nil
		}
		return stMore, 0, nil
	}
	if r.recStart == 0 && data[0] == bom[0] {
		if len(data) < len(bom) && !atEOF && bytes.HasPrefix(bom, data) {
			return stMore, 0, nil
		}
		if bytes.HasPrefix(data, bom) {
			r.P += len(bom)
			return stSkip, 0, nil
		}
	}

	if data[0] == r.comment && r.comment != 0 {
		return r.skipComment(data, atEOF), 0, nil
	}

	// far is how many bytes the parse needed, the end of the stream
	// counting as one more.
	lineEnd := bytes.IndexByte(data, '\n')
	far := lineEnd + 1
	if lineEnd < 0 {
		if !atEOF {
			return r.more(data)
		}
		lineEnd, far = len(data), len(data)+1
	}
	if lineEnd == 0 || (lineEnd == 1 && data[0] == '\r') {
		r.P += min(lineEnd+1, len(data))
		return stSkip, 0, nil
	}

	delim, quote := r.delim, r.quote
	// The record's fields, relative to data (escaped ones to r.esc), go
	// into b at once when the record is complete: one copy of its bytes.
	fs := r.fields[:0]
	r.esc, r.escIdx = r.esc[:0], r.escIdx[:0]
	i := 0
	// q is the index of the next quote at or after i in the current line,
	// or lineEnd when there is none.
	q := indexIn(data, i, lineEnd, quote)
	var end, next int // end of the record's content; start of the next record
	for {
		if i < lineEnd && data[i] == quote {
			// Quoted field.
			i++
			s := i
			escaped := false // the content is in scratch
			var e int        // the closing quote
			if r.escape != 0 {
				var res int
				e, escaped, far, res = r.quotedEscape(data, i, far, atEOF)
				switch res {
				case resMore:
					return r.more(data)
				case resUnterminated:
					return r.bad(data, len(data)+1, len(data), false, errUnterminated)
				}
			} else {
				for {
					k := bytes.IndexByte(data[i:], quote)
					if k < 0 {
						if !atEOF {
							return r.more(data)
						}
						return r.bad(data, len(data)+1, len(data), false, errUnterminated)
					}
					e = i + k
					if e+1 == len(data) && !atEOF {
						return r.more(data)
					}
					far = max(far, e+2)
					if e+1 < len(data) && data[e+1] == quote {
						if !escaped {
							escaped = true
							r.scratch = r.scratch[:0]
						}
						r.scratch = append(r.scratch, data[i:e+1]...)
						i = e + 2
						continue
					}
					break
				}
				if escaped {
					r.scratch = append(r.scratch, data[i:e]...)
				}
			}
			if escaped {
				r.escIdx = append(r.escIdx, len(fs))
				fs = append(fs, pusher.Field{Start: uint32(len(r.esc)), End: uint32(len(r.esc) + len(r.scratch)), Kind: pusher.String})
				r.esc = append(r.esc, r.scratch...)
			} else {
				fs = append(fs, pusher.Field{Start: uint32(s), End: uint32(e), Kind: pusher.String})
			}
			nf++
			i = e + 1
			if i == len(data) { // end of stream
				end, next = i, i
				break
			}
			c := data[i]
			if c == delim {
				i++
				if i > lineEnd {
					// The quoted field spanned lines: find the current one's end.
					k := bytes.IndexByte(data[i:], '\n')
					if k < 0 {
						if !atEOF {
							return r.more(data)
						}
						lineEnd = len(data)
					} else {
						lineEnd = i + k
					}
					far = max(far, lineEnd+1)
				}
				q = indexIn(data, i, lineEnd, quote)
				continue
			}
			if c == '\n' {
				end, next = i, i+1
				break
			}
			if c == '\r' {
				if i+1 == len(data) {
					if !atEOF {
						return r.more(data)
					}
					end, next = i, i+1
					break
				}
				if data[i+1] == '\n' {
					end, next = i, i+2
					break
				}
				far = max(far, i+2)
			}
			return r.bad(data, far, i, true, errExtraneous)
		}

		// Unquoted field: up to the next delimiter or the line end.
		fe := indexShort(data, i, lineEnd, delim)
		if q < fe {
			return r.bad(data, far, q, true, r.errBare)
		}
		f := data[i:fe]
		last := fe == lineEnd
		if last && len(f) > 0 && f[len(f)-1] == '\r' {
			f = f[:len(f)-1]
		}
		if bytes.Equal(f, r.null) {
			fs = append(fs, pusher.Field{Kind: pusher.Null})
		} else {
			fs = append(fs, pusher.Field{Start: uint32(i), End: uint32(i + len(f)), Kind: pusher.String})
		}
		nf++
		if last {
			end = i + len(f)
			next = min(lineEnd+1, len(data))
			break
		}
		i = fe + 1
	}
	r.fields = fs
	if end > r.o.MaxRecordBytes {
		r.startRaw(data[:end])
		r.P += next
		return 0, 0, r.tooLong()
	}
	if len(r.escIdx) == 0 {
		b.AddRecord(data[:end], fs)
	} else {
		for _, j := range r.escIdx {
			fs[j].Start += uint32(end)
			fs[j].End += uint32(end)
		}
		r.rec = append(append(r.rec[:0], data[:end]...), r.esc...)
		b.AddRecord(r.rec, fs)
	}
	r.recLen = end
	r.P += next
	return stOK, nf, nil
}

// Outcomes of quotedEscape.
const (
	resOK           = iota
	resMore         // read more
	resUnterminated // the stream ends inside the field
)

// quotedEscape scans a quoted field whose content starts at data[i] when
// Options.Escape is set: the escape byte makes the next byte literal, and a
// doubled quote is a quote. It returns the index of the closing quote, whether
// r.scratch holds the content (else it is data[i:e]) and the updated far.
func (r *Reader) quotedEscape(data []byte, i, far int, atEOF bool) (e int, escaped bool, nfar, res int) {
	quote, esc := r.quote, r.escape
	// qk and xk are the next quote and escape at or after i (len(data)
	// when there is none), searched again only once i has passed them, so
	// that a field full of escapes is scanned once.
	qk, xk := -1, -1
	for {
		if qk < i {
			qk = indexIn(data, i, len(data), quote)
		}
		if xk < i {
			// Only escapes before the quote matter; with none, xk = qk.
			xk = indexIn(data, i, qk, esc)
		}
		if xk < qk {
			if xk+1 == len(data) {
				if !atEOF {
					return 0, false, far, resMore
				}
				return 0, false, far, resUnterminated
			}
			far = max(far, xk+2)
			if !escaped {
				escaped = true
				r.scratch = r.scratch[:0]
			}
			r.scratch = append(r.scratch, data[i:xk]...)
			r.scratch = append(r.scratch, data[xk+1])
			i = xk + 2
			continue
		}
		if qk == len(data) {
			if !atEOF {
				return 0, false, far, resMore
			}
			return 0, false, far, resUnterminated
		}
		e = qk
		if e+1 == len(data) && !atEOF {
			return 0, false, far, resMore
		}
		far = max(far, e+2)
		if e+1 < len(data) && data[e+1] == quote {
			if !escaped {
				escaped = true
				r.scratch = r.scratch[:0]
			}
			r.scratch = append(r.scratch, data[i:e+1]...)
			i = e + 2
			continue
		}
		if escaped {
			r.scratch = append(r.scratch, data[i:e]...)
		}
		return e, escaped, far, resOK
	}
}

// skipComment skips the comment line at the start of data.
func (r *Reader) skipComment(data []byte, atEOF bool) int {
	if k := bytes.IndexByte(data, '\n'); k >= 0 {
		r.P += k + 1
		return stSkip
	}
	r.P = r.N
	r.skipLine = !atEOF
	return stSkip
}

// more asks for more data for the incomplete record in data, or reports it
// as too long.
func (r *Reader) more(data []byte) (int, int, error) {
	if r.exceeds(data) {
		return r.skipTooLong()
	}
	return stMore, 0, nil
}

// exceeds reports whether a record that goes on past data is too long.
func (r *Reader) exceeds(data []byte) bool {
	n := len(data)
	if n > 0 && data[n-1] == '\r' {
		n-- // it may be the CR of the record's CRLF
	}
	return n > r.o.MaxRecordBytes
}

// skipTooLong reports the record as too long and discards it.
func (r *Reader) skipTooLong() (int, int, error) {
	r.startRaw(nil)
	r.skipRecord = true
	r.inQuote, r.escNext = false, false
	return 0, 0, r.tooLong()
}

// bad reports a malformed record of data, found after needing far bytes,
// the offending byte at index at. Reading resumes after the line holding
// it (skipLine) or, with skipLine false, at the end of the data.
//
// A reader holding only far-1 bytes would have asked for more; if more
// would have called the record too long then, so does bad.
func (r *Reader) bad(data []byte, far, at int, skipLine bool, err error) (int, int, error) {
	if r.exceeds(data[:far-1]) {
		return r.skipTooLong()
	}
	if skipLine {
		r.startRaw(data[:at])
		r.P += at
		r.skipLine = true
	} else {
		r.startRaw(data)
		r.P = r.N
	}
	return 0, 0, r.recordError(r.recStart, err)
}

func (r *Reader) tooLong() error {
	return r.recordError(r.recStart, fmt.Errorf("record longer than %d bytes", r.o.MaxRecordBytes))
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// indexShort is indexIn for the short fields of a line: up to 32 bytes
// are searched eight at a time in a register (a call of bytes.IndexByte
// costs more than a field), the rest by bytes.IndexByte.
func indexShort(data []byte, i, end int, c byte) int {
	pat := lsb * uint64(c)
	for n := 0; n < 4 && i+8 <= end; n++ {
		x := binary.LittleEndian.Uint64(data[i:]) ^ pat
		// The lowest set high bit marks the first byte of x that is
		// zero, the first c (higher ones may be borrows).
		if t := (x - lsb) &^ x & msb; t != 0 {
			return i + bits.TrailingZeros64(t)/8
		}
		i += 8
	}
	if end-i >= 8 {
		return indexIn(data, i, end, c)
	}
	for ; i < end; i++ {
		if data[i] == c {
			return i
		}
	}
	return end
}

// indexIn is the index of the first c in data[i:end], or end.
func indexIn(data []byte, i, end int, c byte) int {
	if k := bytes.IndexByte(data[i:end], c); k >= 0 {
		return i + k
	}
	return end
}
