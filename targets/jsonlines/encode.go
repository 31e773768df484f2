package jsonlines

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ferrydata/ferry/pusher"
)

// errInvalidUTF8 is a value (or a field name) that is not valid UTF-8
// under --invalid-utf8 reject.
var errInvalidUTF8 = errors.New("invalid UTF-8 (--invalid-utf8 reject)")

// encoder renders records as compact JSON objects whose strings are all
// valid UTF-8: invalid bytes become U+FFFD, or (reject) make the value a
// bad value. Numbers, booleans and JSON values are checked, and JSON values
// compacted: a value that is not valid JSON is a bad value, so a line
// written is always one valid JSON object.
type encoder struct {
	reject bool
}

// fieldError is a bad value of one column of a record.
type fieldError struct {
	column string
	err    error
}

func (e *fieldError) Error() string { return fmt.Sprintf("column %q: %v", e.column, e.err) }
func (e *fieldError) Unwrap() error { return e.err }

// appendRecord appends record i of b as a JSON object, without its closing
// brace, so that system columns can follow; n is the number of members
// written. On error dst is returned as it was.
func (e encoder) appendRecord(dst []byte, b *pusher.Batch, i int) (_ []byte, n int, _ error) {
	at := len(dst)
	fields := b.Record(i)
	dst = append(dst, '{')
	for c, name := range b.Columns {
		if c > 0 {
			dst = append(dst, ',')
		}
		present := c < len(fields) && fields[c].Kind != pusher.Null
		var err error
		// A field name follows --invalid-utf8 like a value; the name of a
		// column the record has no value for is only made valid.
		if dst, err = e.appendString(dst, []byte(name), e.reject && present); err != nil {
			return dst[:at], 0, &fieldError{column: clean(name), err: err}
		}
		dst = append(dst, ':')
		if !present {
			dst = append(dst, "null"...)
			continue
		}
		f := fields[c]
		if dst, err = e.appendValue(dst, f.Kind, b.Value(f)); err != nil {
			return dst[:at], 0, &fieldError{column: clean(name), err: err}
		}
	}
	return dst, len(b.Columns), nil
}

// clean makes a name printable in an error message.
func clean(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// appendValue appends one non-NULL value.
func (e encoder) appendValue(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
	switch k {
	case pusher.String:
		return e.appendString(dst, v, e.reject)
	case pusher.Number:
		if !isNumber(v) {
			// Not a JSON number (a reader's NaN, say): keep it as text.
			return e.appendString(dst, v, e.reject)
		}
		return append(dst, v...), nil
	case pusher.Bool:
		if string(v) != "true" && string(v) != "false" {
			return e.appendString(dst, v, e.reject)
		}
		return append(dst, v...), nil
	case pusher.JSON:
		at := len(dst)
		out, end, err := e.compact(dst, v, skipSpace(v, 0), 0)
		if err == nil && skipSpace(v, end) != len(v) {
			err = errors.New("invalid JSON value: data after the value")
		}
		if err != nil {
			return dst[:at], err
		}
		return out, nil
	}
	return dst, fmt.Errorf("unknown value kind %d", k)
}

// appendString appends s as a JSON string: invalid UTF-8 bytes become
// U+FFFD, or fail with errInvalidUTF8 when reject is set.
func (e encoder) appendString(dst, s []byte, reject bool) ([]byte, error) {
	if reject && !utf8.Valid(s) {
		return dst, errInvalidUTF8
	}
	return pusher.AppendJSONString(dst, s), nil
}

func skipSpace(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	return i
}

// maxDepth bounds the nesting compact follows (the readers allow less).
const maxDepth = 10_000

// compact appends the JSON value at v[i] without insignificant whitespace
// and returns the index after it. Strings are copied with their escapes;
// invalid UTF-8 inside them becomes U+FFFD (or fails, under reject).
func (e encoder) compact(dst, v []byte, i, depth int) ([]byte, int, error) {
	if depth > maxDepth {
		return dst, i, errors.New("invalid JSON value: nested too deep")
	}
	if i >= len(v) {
		return dst, i, errors.New("invalid JSON value: unexpected end")
	}
	switch c := v[i]; {
	case c == '{' || c == '[':
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		dst = append(dst, c)
		i = skipSpace(v, i+1)
		if i < len(v) && v[i] == closing {
			return append(dst, closing), i + 1, nil
		}
		for {
			var err error
			if c == '{' {
				if i >= len(v) || v[i] != '"' {
					return dst, i, errors.New("invalid JSON value: expected an object key")
				}
				if dst, i, err = e.compactString(dst, v, i); err != nil {
					return dst, i, err
				}
				i = skipSpace(v, i)
				if i >= len(v) || v[i] != ':' {
					return dst, i, errors.New("invalid JSON value: expected ':'")
				}
				dst = append(dst, ':')
				i = skipSpace(v, i+1)
			}
			if dst, i, err = e.compact(dst, v, i, depth+1); err != nil {
				return dst, i, err
			}
			i = skipSpace(v, i)
			if i < len(v) && v[i] == ',' {
				dst = append(dst, ',')
				i = skipSpace(v, i+1)
				continue
			}
			if i < len(v) && v[i] == closing {
				return append(dst, closing), i + 1, nil
			}
			return dst, i, fmt.Errorf("invalid JSON value: expected ',' or '%c'", closing)
		}
	case c == '"':
		return e.compactString(dst, v, i)
	case c == 't':
		return literal(dst, v, i, "true")
	case c == 'f':
		return literal(dst, v, i, "false")
	case c == 'n':
		return literal(dst, v, i, "null")
	default:
		j := numberEnd(v, i)
		if j == i {
			return dst, i, errors.New("invalid JSON value: expected a value")
		}
		return append(dst, v[i:j]...), j, nil
	}
}

func literal(dst, v []byte, i int, lit string) ([]byte, int, error) {
	if len(v)-i < len(lit) || string(v[i:i+len(lit)]) != lit {
		return dst, i, errors.New("invalid JSON value: expected a value")
	}
	return append(dst, lit...), i + len(lit), nil
}

// compactString copies the JSON string at v[i] (escapes as written),
// making its bytes valid UTF-8.
func (e encoder) compactString(dst, v []byte, i int) ([]byte, int, error) {
	dst = append(dst, '"')
	i++
	start := i
	for i < len(v) {
		c := v[i]
		switch {
		case c == '"':
			dst = append(dst, v[start:i]...)
			return append(dst, '"'), i + 1, nil
		case c == '\\':
			if i+1 >= len(v) {
				return dst, i, errors.New("invalid JSON value: unterminated string")
			}
			switch v[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(v) || !isHex4(v[i+2:i+6]) {
					return dst, i, errors.New("invalid JSON value: bad \\u escape")
				}
				i += 6
			default:
				return dst, i, errors.New("invalid JSON value: bad escape")
			}
		case c < 0x20:
			return dst, i, errors.New("invalid JSON value: control character in string")
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(v[i:])
			if r == utf8.RuneError && size == 1 {
				if e.reject {
					return dst, i, errInvalidUTF8
				}
				dst = append(dst, v[start:i]...)
				dst = append(dst, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
		}
	}
	return dst, i, errors.New("invalid JSON value: unterminated string")
}

func isHex4(h []byte) bool {
	for _, c := range h {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// numberEnd returns the index after the JSON number at v[i], or i when
// none starts there.
func numberEnd(v []byte, i int) int {
	j := i
	if j < len(v) && v[j] == '-' {
		j++
	}
	switch {
	case j < len(v) && v[j] == '0':
		j++
	case j < len(v) && v[j] >= '1' && v[j] <= '9':
		for j < len(v) && v[j] >= '0' && v[j] <= '9' {
			j++
		}
	default:
		return i
	}
	if j < len(v) && v[j] == '.' {
		k := j + 1
		for k < len(v) && v[k] >= '0' && v[k] <= '9' {
			k++
		}
		if k == j+1 {
			return i
		}
		j = k
	}
	if j < len(v) && (v[j] == 'e' || v[j] == 'E') {
		k := j + 1
		if k < len(v) && (v[k] == '+' || v[k] == '-') {
			k++
		}
		d := k
		for k < len(v) && v[k] >= '0' && v[k] <= '9' {
			k++
		}
		if k == d {
			return i
		}
		j = k
	}
	return j
}

// isNumber reports whether v is exactly one JSON number.
func isNumber(v []byte) bool { return len(v) > 0 && numberEnd(v, 0) == len(v) }
