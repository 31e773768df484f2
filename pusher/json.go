package pusher

import "unicode/utf8"

// AppendJSON appends record i of b as a JSON object with keys in column
// order: strings as JSON strings, numbers, booleans and JSON values as
// read, NULL and missing fields as null.
func (b *Batch) AppendJSON(dst []byte, i int) []byte {
	fields := b.Record(i)
	dst = append(dst, '{')
	for c, name := range b.Columns {
		if c > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, []byte(name))
		dst = append(dst, ':')
		if c >= len(fields) {
			dst = append(dst, "null"...)
			continue
		}
		f := fields[c]
		switch f.Kind {
		case Null:
			dst = append(dst, "null"...)
		case String:
			dst = AppendJSONString(dst, b.Value(f))
		default:
			dst = append(dst, b.Value(f)...)
		}
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string; each invalid UTF-8 byte
// becomes U+FFFD.
func AppendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
