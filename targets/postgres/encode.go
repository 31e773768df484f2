package postgres

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/ferrydata/ferry/pusher"
	"github.com/jackc/pgx/v5/pgtype"
)

// An encoder appends the binary COPY representation of one non-NULL value
// (without the length prefix) to dst.
type encoder func(dst []byte, k pusher.Kind, v []byte) ([]byte, error)

// Conversion options.
type Conversion struct {
	// TimestampFormat: "" or "auto" (ISO 8601 / RFC 3339 text), "epoch_s" or
	// "epoch_ms": numbers into timestamp columns count seconds or
	// milliseconds since 1970 (text timestamps are still accepted).
	TimestampFormat string
	// RejectInvalidUTF8 makes text with invalid UTF-8 (or NUL bytes) a bad
	// value; by default the bad bytes become U+FFFD.
	RejectInvalidUTF8 bool
}

// encoderFor returns the encoder for a column type. baseOID is the column's
// type with domains resolved; typtype is pg_type.typtype of that type.
func encoderFor(m *pgtype.Map, baseOID uint32, typtype string, typeName string, conv Conversion) (encoder, error) {
	text := encodeTextFixing
	if conv.RejectInvalidUTF8 {
		text = encodeTextStrict
	}
	switch baseOID {
	case pgtype.TextOID, pgtype.VarcharOID, pgtype.BPCharOID, pgtype.NameOID:
		return text, nil
	case pgtype.JSONOID:
		return func(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
			at := len(dst)
			dst, err := encodeJSON(dst, k, v)
			if err != nil {
				return dst, err
			}
			return fixUTF8(dst, at, conv.RejectInvalidUTF8)
		}, nil
	case pgtype.JSONBOID:
		return func(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
			at := len(dst)
			dst, err := encodeJSONB(dst, k, v)
			if err != nil {
				return dst, err
			}
			return fixUTF8(dst, at, conv.RejectInvalidUTF8)
		}, nil
	case pgtype.TimestamptzOID, pgtype.TimestampOID:
		if conv.TimestampFormat == "epoch_s" || conv.TimestampFormat == "epoch_ms" {
			return encodeTimestampEpoch(baseOID == pgtype.TimestamptzOID, conv.TimestampFormat == "epoch_ms"), nil
		}
	}
	if typtype == "e" { // enum: binary form is the label
		return text, nil
	}
	switch baseOID {
	case pgtype.Int8OID:
		return encodeInt(64), nil
	case pgtype.Int4OID:
		return encodeInt(32), nil
	case pgtype.Int2OID:
		return encodeInt(16), nil
	case pgtype.Float8OID:
		return encodeFloat8, nil
	case pgtype.Float4OID:
		return encodeFloat4, nil
	case pgtype.BoolOID:
		return encodeBool, nil
	case pgtype.TimestamptzOID:
		return encodeTimestamp(true), nil
	case pgtype.TimestampOID:
		return encodeTimestamp(false), nil
	case pgtype.DateOID:
		return encodeDate, nil
	case pgtype.UUIDOID:
		return encodeUUID, nil
	}
	// Anything else pgx knows: parse the text form, send the binary form.
	typ, ok := m.TypeForOID(baseOID)
	if !ok {
		return nil, fmt.Errorf("type %s is not supported", typeName)
	}
	return func(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
		val, err := typ.Codec.DecodeValue(m, baseOID, pgtype.TextFormatCode, v)
		if err != nil {
			return dst, fmt.Errorf("invalid %s %q: %w", typeName, clip(v), err)
		}
		out, err := m.Encode(baseOID, pgtype.BinaryFormatCode, val, dst)
		if err != nil {
			return dst, fmt.Errorf("invalid %s %q: %w", typeName, clip(v), err)
		}
		return out, nil
	}, nil
}

// clip shortens a value for error messages.
func clip(v []byte) string {
	if len(v) > 64 {
		return string(v[:64]) + "..."
	}
	return string(v)
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func trimSpace(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	return v
}

var errSyntax = errors.New("invalid syntax")

// parseInt parses a decimal integer with an optional sign, without
// allocating.
func parseInt(v []byte, bits int) (int64, error) {
	v = trimSpace(v)
	neg := false
	if len(v) > 0 && (v[0] == '-' || v[0] == '+') {
		neg = v[0] == '-'
		v = v[1:]
	}
	if len(v) == 0 || len(v) > 19 {
		if len(v) > 19 {
			return 0, strconv.ErrRange
		}
		return 0, errSyntax
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errSyntax
		}
		n = n*10 + uint64(c-'0')
	}
	limit := uint64(1) << (bits - 1)
	if (!neg && n >= limit) || (neg && n > limit) {
		return 0, strconv.ErrRange
	}
	if neg {
		return -int64(n), nil
	}
	return int64(n), nil
}

var typeOfBits = map[int]string{16: "smallint", 32: "integer", 64: "bigint"}

func encodeInt(bits int) encoder {
	name := typeOfBits[bits]
	return func(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
		if k != pusher.String && k != pusher.Number {
			return dst, fmt.Errorf("cannot convert %s %s to %s", k, clip(v), name)
		}
		n, err := parseInt(v, bits)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return dst, fmt.Errorf("value %q out of range for %s", clip(v), name)
			}
			return dst, fmt.Errorf("invalid %s %q", name, clip(v))
		}
		switch bits {
		case 64:
			return binary.BigEndian.AppendUint64(dst, uint64(n)), nil
		case 32:
			return binary.BigEndian.AppendUint32(dst, uint32(int32(n))), nil
		default:
			return binary.BigEndian.AppendUint16(dst, uint16(int16(n))), nil
		}
	}
}

func parseFloat(k pusher.Kind, v []byte, bits int, name string) (float64, error) {
	if k != pusher.String && k != pusher.Number {
		return 0, fmt.Errorf("cannot convert %s %s to %s", k, clip(v), name)
	}
	t := trimSpace(v)
	if len(t) > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		return 0, fmt.Errorf("invalid %s %q", name, clip(v))
	}
	if bits == 64 {
		if f, ok := fastFloat(t); ok {
			return f, nil
		}
	}
	f, err := strconv.ParseFloat(unsafeString(t), bits)
	if err != nil {
		if errors.Is(err, strconv.ErrRange) && !math.IsInf(f, 0) {
			return f, nil // underflow to zero, as PostgreSQL does
		}
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("value %q out of range for %s", clip(v), name)
		}
		return 0, fmt.Errorf("invalid %s %q", name, clip(v))
	}
	return f, nil
}

// pow10 holds the powers of ten that a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// fastFloat parses the common plain decimal, [+-]digits[.digits] with at
// most 15 digits in all, without strconv's general machinery. The digits
// make an integer below 2^53 and the fraction a power of ten up to 1e15,
// both exact in a float64, so their quotient is correctly rounded: the
// same value strconv.ParseFloat returns (Clinger's fast path). Anything
// else reports false.
func fastFloat(v []byte) (float64, bool) {
	neg := false
	if len(v) > 0 && (v[0] == '-' || v[0] == '+') {
		neg = v[0] == '-'
		v = v[1:]
	}
	if len(v) == 0 || len(v) > 16 {
		return 0, false
	}
	var m uint64
	nd, frac := 0, -1 // digits; digits after the point (-1: no point)
	for _, c := range v {
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			nd++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0 && nd > 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if nd == 0 || nd > 15 || frac == 0 {
		return 0, false
	}
	f := float64(m)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

func encodeFloat8(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
	f, err := parseFloat(k, v, 64, "double precision")
	if err != nil {
		return dst, err
	}
	return binary.BigEndian.AppendUint64(dst, math.Float64bits(f)), nil
}

func encodeFloat4(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
	f, err := parseFloat(k, v, 32, "real")
	if err != nil {
		return dst, err
	}
	return binary.BigEndian.AppendUint32(dst, math.Float32bits(float32(f))), nil
}

// parseBool accepts true/false, t/f, yes/no, y/n, on/off, 1/0 in any case.
func parseBool(v []byte) (bool, bool) {
	switch string(v) { // the common spellings, before trimming and folding
	case "true":
		return true, true
	case "false":
		return false, true
	}
	v = trimSpace(v)
	if len(v) == 0 || len(v) > 5 {
		return false, false
	}
	var low [5]byte
	for i, c := range v {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	switch string(low[:len(v)]) {
	case "true", "t", "yes", "y", "on", "1":
		return true, true
	case "false", "f", "no", "n", "off", "0":
		return false, true
	}
	return false, false
}

func encodeBool(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
	if k == pusher.JSON {
		return dst, fmt.Errorf("cannot convert json %s to boolean", clip(v))
	}
	b, ok := parseBool(v)
	if !ok {
		return dst, fmt.Errorf("invalid boolean %q", clip(v))
	}
	if b {
		return append(dst, 1), nil
	}
	return append(dst, 0), nil
}

var errInvalidUTF8 = errors.New("invalid UTF-8 (--invalid-utf8 reject)")

// encodeTextFixing appends text, replacing invalid UTF-8 and NUL bytes
// (which PostgreSQL text cannot hold) with U+FFFD.
func encodeTextFixing(dst []byte, _ pusher.Kind, v []byte) ([]byte, error) {
	at := len(dst)
	return fixUTF8(append(dst, v...), at, false)
}

// encodeTextStrict appends text, failing on invalid UTF-8 or NUL bytes.
func encodeTextStrict(dst []byte, _ pusher.Kind, v []byte) ([]byte, error) {
	at := len(dst)
	return fixUTF8(append(dst, v...), at, true)
}

// fixUTF8 checks dst[at:], which was just appended: valid UTF-8 without NUL
// passes untouched (the common, fast path); otherwise it is rewritten with
// U+FFFD for each bad byte, or rejected.
func fixUTF8(dst []byte, at int, reject bool) ([]byte, error) {
	v := dst[at:]
	if cleanText(v) {
		return dst, nil
	}
	if reject {
		return dst[:at], errInvalidUTF8
	}
	fixed := bytes.ToValidUTF8(v, []byte("\uFFFD"))
	fixed = bytes.ReplaceAll(fixed, []byte{0}, []byte("\uFFFD"))
	return append(dst[:at], fixed...), nil
}

// cleanText reports whether v is valid UTF-8 without NUL bytes, in one
// pass: ASCII eight bytes at a time, the rest by utf8.Valid.
func cleanText(v []byte) bool {
	i := 0
	for ; i+8 <= len(v); i += 8 {
		w := binary.LittleEndian.Uint64(v[i:])
		// A high bit set: not ASCII; (w-0x01..)&^w has one for a zero byte
		// (exactly so when no byte has its high bit set).
		if (w|(w-0x0101010101010101)&^w)&0x8080808080808080 != 0 {
			break
		}
	}
	for ; i < len(v); i++ {
		c := v[i]
		if c == 0 {
			return false
		}
		if c >= utf8.RuneSelf {
			rest := v[i:]
			return utf8.Valid(rest) && bytes.IndexByte(rest, 0) < 0
		}
	}
	return true
}

// encodeTimestampEpoch reads numbers as seconds or milliseconds since
// 1970-01-01 UTC (fractions allowed) and anything else as text timestamps.
func encodeTimestampEpoch(withZone, millis bool) encoder {
	text := encodeTimestamp(withZone)
	unit := "seconds"
	if millis {
		unit = "milliseconds"
	}
	return func(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
		t := trimSpace(v)
		if k != pusher.Number && (k != pusher.String || !looksNumeric(t)) {
			return text(dst, k, v)
		}
		f, err := strconv.ParseFloat(unsafeString(t), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, fmt.Errorf("invalid epoch %s %q", unit, clip(v))
		}
		us := f * 1e6
		if millis {
			us = f * 1e3
		}
		us -= float64(unixToPGEpochSeconds) * 1e6
		if us > math.MaxInt64/2 || us < math.MinInt64/2 {
			return dst, fmt.Errorf("epoch %s %q out of range", unit, clip(v))
		}
		return binary.BigEndian.AppendUint64(dst, uint64(int64(math.Round(us)))), nil
	}
}

// unixToPGEpochSeconds is 2000-01-01 in Unix seconds.
const unixToPGEpochSeconds = 946684800

func looksNumeric(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	for i, c := range v {
		if (c < '0' || c > '9') && c != '.' && !(i == 0 && c == '-') && c != 'e' && c != 'E' && c != '+' {
			return false
		}
	}
	return true
}

// jsonValue returns the JSON text for a value going into a json/jsonb
// column: JSON values, numbers and booleans as written; a string that holds
// a JSON object or array as that document; any other string as a JSON
// string.
func jsonValue(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
	switch k {
	case pusher.JSON, pusher.Number, pusher.Bool:
		return append(dst, v...), nil
	}
	t := bytes.TrimSpace(v)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		if !json.Valid(t) {
			return dst, fmt.Errorf("invalid JSON %q", clip(v))
		}
		return append(dst, t...), nil
	}
	b, err := json.Marshal(unsafeString(v))
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

func encodeJSON(dst []byte, k pusher.Kind, v []byte) ([]byte, error) { return jsonValue(dst, k, v) }

func encodeJSONB(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
	return jsonValue(append(dst, 1), k, v) // jsonb binary format version 1
}

func encodeUUID(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
	t := trimSpace(v)
	if len(t) == 38 && t[0] == '{' && t[37] == '}' {
		t = t[1:37]
	}
	var raw [32]byte
	n := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c == '-' && (i == 8 || i == 13 || i == 18 || i == 23) && len(t) == 36 {
			continue
		}
		if n == 32 {
			return dst, fmt.Errorf("invalid uuid %q", clip(v))
		}
		raw[n] = c
		n++
	}
	var out [16]byte
	if n != 32 {
		return dst, fmt.Errorf("invalid uuid %q", clip(v))
	}
	if _, err := hex.Decode(out[:], raw[:]); err != nil {
		return dst, fmt.Errorf("invalid uuid %q", clip(v))
	}
	return append(dst, out[:]...), nil
}

func encodeTimestamp(withZone bool) encoder {
	name := "timestamp"
	if withZone {
		name = "timestamptz"
	}
	return func(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
		if k != pusher.String {
			return dst, fmt.Errorf("cannot convert %s %s to %s", k, clip(v), name)
		}
		us, err := parseTimestamp(trimSpace(v), withZone)
		if err != nil {
			return dst, fmt.Errorf("invalid %s %q: %v", name, clip(v), err)
		}
		return binary.BigEndian.AppendUint64(dst, uint64(us)), nil
	}
}

func encodeDate(dst []byte, k pusher.Kind, v []byte) ([]byte, error) {
	if k != pusher.String {
		return dst, fmt.Errorf("cannot convert %s %s to date", k, clip(v))
	}
	days, err := parseDate(trimSpace(v))
	if err != nil {
		return dst, fmt.Errorf("invalid date %q: %v", clip(v), err)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(days)), nil
}
