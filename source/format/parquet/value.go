package parquet

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/big"
	"strconv"

	"github.com/ferrydata/ferry/pusher"
	parquetgo "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	pqformat "github.com/parquet-go/parquet-go/format"
)

// leafKind says how a leaf column's values are written.
type leafKind uint8

const (
	kBool      leafKind = iota
	kInt32              // INT32, INT(8|16|32, signed)
	kUint32             // INT32 with INT(8|16|32, unsigned)
	kInt64              // INT64, INT(64, signed)
	kUint64             // INT64 with INT(64, unsigned)
	kFloat              // FLOAT
	kDouble             // DOUBLE
	kFloat16            // FIXED_LEN_BYTE_ARRAY(2) FLOAT16
	kString             // BYTE_ARRAY STRING, ENUM
	kBytes              // BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY without a text type
	kJSON               // BYTE_ARRAY JSON
	kUUID               // FIXED_LEN_BYTE_ARRAY(16) UUID
	kDecimal            // DECIMAL over INT32, INT64 or a byte array
	kDate               // INT32 DATE
	kTime               // INT32 or INT64 TIME
	kTimestamp          // INT64 TIMESTAMP
	kInt96              // INT96 (legacy timestamp)
	kInterval           // FIXED_LEN_BYTE_ARRAY(12) INTERVAL
)

// leafConv converts a leaf column's values to text.
type leafConv struct {
	phys  parquetgo.Kind // the physical type: values of another kind are corrupt data
	kind  leafKind
	scale int   // kDecimal
	unit  int64 // kTime, kTimestamp: nanoseconds per unit (1, 1e3, 1e6)
	utc   bool  // kTimestamp: adjusted to UTC ("Z" suffix)
}

// leafConvOf picks the conversion for a leaf from its logical type, else
// its converted type, else its physical type. An annotation that does not
// fit the physical type is ignored.
func leafConvOf(e *pqformat.SchemaElement) leafConv {
	c := convOf(e)
	c.phys = parquetgo.Kind(e.Type.V)
	return c
}

func convOf(e *pqformat.SchemaElement) leafConv {
	phys := e.Type.V
	length, _ := e.TypeLength.Get()
	def := physicalConv(phys)
	switch lt := e.LogicalType.Value.(type) {
	case *pqformat.StringType, *pqformat.EnumType:
		if phys == pqformat.ByteArray || phys == pqformat.FixedLenByteArray {
			return leafConv{kind: kString}
		}
	case *pqformat.JsonType:
		if phys == pqformat.ByteArray {
			return leafConv{kind: kJSON}
		}
	case *pqformat.UUIDType:
		if phys == pqformat.FixedLenByteArray && length == 16 {
			return leafConv{kind: kUUID}
		}
	case *pqformat.Float16Type:
		if phys == pqformat.FixedLenByteArray && length == 2 {
			return leafConv{kind: kFloat16}
		}
	case *pqformat.IntType:
		switch {
		case phys == pqformat.Int32 && !lt.IsSigned:
			return leafConv{kind: kUint32}
		case phys == pqformat.Int64 && !lt.IsSigned:
			return leafConv{kind: kUint64}
		}
		return def
	case *pqformat.DecimalType:
		if c, ok := decimalConv(phys, int(lt.Scale)); ok {
			return c
		}
	case *pqformat.DateType:
		if phys == pqformat.Int32 {
			return leafConv{kind: kDate}
		}
	case *pqformat.TimeType:
		if c, ok := timeConv(phys, unitNanos(lt.Unit.Value)); ok {
			return c
		}
	case *pqformat.TimestampType:
		if phys == pqformat.Int64 {
			return leafConv{kind: kTimestamp, unit: unitNanos(lt.Unit.Value), utc: lt.IsAdjustedToUTC}
		}
	}
	if e.LogicalType.Value != nil {
		return def
	}
	ct, ok := e.ConvertedType.Get()
	if !ok {
		return def
	}
	switch ct {
	case deprecated.UTF8, deprecated.Enum:
		if phys == pqformat.ByteArray || phys == pqformat.FixedLenByteArray {
			return leafConv{kind: kString}
		}
	case deprecated.Json:
		if phys == pqformat.ByteArray {
			return leafConv{kind: kJSON}
		}
	case deprecated.Uint8, deprecated.Uint16, deprecated.Uint32:
		if phys == pqformat.Int32 {
			return leafConv{kind: kUint32}
		}
	case deprecated.Uint64:
		if phys == pqformat.Int64 {
			return leafConv{kind: kUint64}
		}
	case deprecated.Decimal:
		scale, _ := e.Scale.Get()
		if c, ok := decimalConv(phys, int(scale)); ok {
			return c
		}
	case deprecated.Date:
		if phys == pqformat.Int32 {
			return leafConv{kind: kDate}
		}
	case deprecated.TimeMillis:
		if c, ok := timeConv(phys, 1e6); ok {
			return c
		}
	case deprecated.TimeMicros:
		if c, ok := timeConv(phys, 1e3); ok {
			return c
		}
	case deprecated.TimestampMillis, deprecated.TimestampMicros:
		if phys == pqformat.Int64 {
			unit := int64(1e6)
			if ct == deprecated.TimestampMicros {
				unit = 1e3
			}
			return leafConv{kind: kTimestamp, unit: unit, utc: true}
		}
	case deprecated.Interval:
		if phys == pqformat.FixedLenByteArray && length == 12 {
			return leafConv{kind: kInterval}
		}
	}
	return def
}

func physicalConv(t pqformat.Type) leafConv {
	switch t {
	case pqformat.Boolean:
		return leafConv{kind: kBool}
	case pqformat.Int32:
		return leafConv{kind: kInt32}
	case pqformat.Int64:
		return leafConv{kind: kInt64}
	case pqformat.Int96:
		return leafConv{kind: kInt96}
	case pqformat.Float:
		return leafConv{kind: kFloat}
	case pqformat.Double:
		return leafConv{kind: kDouble}
	}
	return leafConv{kind: kBytes}
}

func decimalConv(phys pqformat.Type, scale int) (leafConv, bool) {
	if scale < 0 || scale > 1000 {
		return leafConv{}, false
	}
	switch phys {
	case pqformat.Int32, pqformat.Int64, pqformat.ByteArray, pqformat.FixedLenByteArray:
		return leafConv{kind: kDecimal, scale: scale}, true
	}
	return leafConv{}, false
}

func timeConv(phys pqformat.Type, unit int64) (leafConv, bool) {
	if (phys == pqformat.Int32 && unit == 1e6) || (phys == pqformat.Int64 && unit != 1e6) {
		return leafConv{kind: kTime, unit: unit}, true
	}
	return leafConv{}, false
}

func unitNanos(u pqformat.TimeUnitValue) int64 {
	switch u.(type) {
	case *pqformat.MilliSeconds:
		return 1e6
	case *pqformat.MicroSeconds:
		return 1e3
	}
	return 1
}

// appendValue appends the text of a non-null value to dst and returns its
// kind. Text is written as it would appear in a CSV field: strings are
// not quoted.
func (c *leafConv) appendValue(dst []byte, v parquetgo.Value) ([]byte, pusher.Kind) {
	switch c.kind {
	case kBool:
		if v.Boolean() {
			return append(dst, "true"...), pusher.Bool
		}
		return append(dst, "false"...), pusher.Bool
	case kInt32:
		return strconv.AppendInt(dst, int64(v.Int32()), 10), pusher.Number
	case kUint32:
		return strconv.AppendUint(dst, uint64(uint32(v.Int32())), 10), pusher.Number
	case kInt64:
		return strconv.AppendInt(dst, v.Int64(), 10), pusher.Number
	case kUint64:
		return strconv.AppendUint(dst, uint64(v.Int64()), 10), pusher.Number
	case kFloat:
		return appendFloat(dst, float64(v.Float()), 32)
	case kDouble:
		return appendFloat(dst, v.Double(), 64)
	case kFloat16:
		b := v.ByteArray()
		if len(b) != 2 {
			return append(dst, b...), pusher.String
		}
		return appendFloat(dst, float64(float16(binary.LittleEndian.Uint16(b))), 32)
	case kString, kBytes:
		return append(dst, v.ByteArray()...), pusher.String
	case kJSON:
		b := v.ByteArray()
		if !json.Valid(b) {
			return append(dst, b...), pusher.String
		}
		return append(dst, b...), pusher.JSON
	case kUUID:
		return appendUUID(dst, v.ByteArray()), pusher.String
	case kDecimal:
		return c.appendDecimal(dst, v), pusher.Number
	case kDate:
		return appendDate(dst, int64(v.Int32())), pusher.String
	case kTime:
		n := int64(v.Int32())
		if v.Kind() == parquetgo.Int64 {
			n = v.Int64()
		}
		return appendTime(dst, n, c.unit), pusher.String
	case kTimestamp:
		return appendTimestamp(dst, v.Int64(), c.unit, c.utc), pusher.String
	case kInt96:
		return appendInt96(dst, v.Int96()), pusher.String
	case kInterval:
		return appendInterval(dst, v.ByteArray()), pusher.String
	}
	return append(dst, v.ByteArray()...), pusher.String
}

// appendFloat writes a finite float as a number and NaN and the infinities
// as the strings "NaN", "Infinity" and "-Infinity" (which PostgreSQL reads
// as such).
func appendFloat(dst []byte, f float64, bits int) ([]byte, pusher.Kind) {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...), pusher.String
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...), pusher.String
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...), pusher.String
	}
	return strconv.AppendFloat(dst, f, 'g', -1, bits), pusher.Number
}

// float16 converts IEEE 754 half-precision bits to a float32.
func float16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	case frac == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: frac * 2^-24.
	f := float32(frac) / (1 << 24)
	if sign != 0 {
		f = -f
	}
	return f
}

const hexDigits = "0123456789abcdef"

func appendUUID(dst, b []byte) []byte {
	if len(b) != 16 {
		return append(dst, b...)
	}
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return dst
}

// appendDecimal writes the exact decimal text of an unscaled value:
// "-123.4500" for -1234500 at scale 4.
func (c *leafConv) appendDecimal(dst []byte, v parquetgo.Value) []byte {
	var u uint64
	neg := false
	switch v.Kind() {
	case parquetgo.Int32:
		n := int64(v.Int32())
		neg, u = n < 0, uint64(n)
	case parquetgo.Int64:
		n := v.Int64()
		neg, u = n < 0, uint64(n)
	default:
		b := v.ByteArray()
		if len(b) > 8 {
			return appendBigDecimal(dst, b, c.scale)
		}
		if len(b) == 0 {
			return appendScaled(dst, []byte{'0'}, false, c.scale)
		}
		// Sign-extend the big-endian two's complement bytes.
		var n int64
		if b[0]&0x80 != 0 {
			n = -1
		}
		for _, x := range b {
			n = n<<8 | int64(x)
		}
		neg, u = n < 0, uint64(n)
	}
	if neg {
		u = -u
	}
	var buf [20]byte
	digits := strconv.AppendUint(buf[:0], u, 10)
	return appendScaled(dst, digits, neg, c.scale)
}

func appendBigDecimal(dst, b []byte, scale int) []byte {
	n := new(big.Int).SetBytes(b)
	neg := b[0]&0x80 != 0
	if neg {
		// Two's complement: n - 2^(8*len(b)).
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
		n.Neg(n)
	}
	return appendScaled(dst, n.Append(nil, 10), neg, scale)
}

// appendScaled writes the digits of an unscaled magnitude with the decimal
// point scale digits from the right.
func appendScaled(dst, digits []byte, neg bool, scale int) []byte {
	if neg {
		dst = append(dst, '-')
	}
	if scale == 0 {
		return append(dst, digits...)
	}
	if len(digits) <= scale {
		dst = append(dst, '0', '.')
		for range scale - len(digits) {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	k := len(digits) - scale
	dst = append(dst, digits[:k]...)
	dst = append(dst, '.')
	return append(dst, digits[k:]...)
}

// civil returns the proleptic Gregorian date of a day count from
// 1970-01-01 (Howard Hinnant's days_from_civil inverse).
func civil(days int64) (year int64, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, int(m), int(d)
}

func appendDate(dst []byte, days int64) []byte {
	y, m, d := civil(days)
	if y < 0 {
		dst = append(dst, '-')
		y = -y
	}
	dst = appendPad(dst, y, 4)
	dst = append(dst, '-', byte('0'+m/10), byte('0'+m%10), '-', byte('0'+d/10), byte('0'+d%10))
	return dst
}

// appendPad writes n (>= 0) with at least width digits.
func appendPad(dst []byte, n int64, width int) []byte {
	var buf [20]byte
	s := strconv.AppendInt(buf[:0], n, 10)
	for range width - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// fracDigits is how many fractional second digits a unit has.
func fracDigits(unit int64) int {
	switch unit {
	case 1e6:
		return 3
	case 1e3:
		return 6
	}
	return 9
}

// appendClock writes HH:MM:SS and the fraction of a time of day in
// nanoseconds (0 <= ns < 24h, or exactly 24h).
func appendClock(dst []byte, ns int64, digits int) []byte {
	s := ns / 1e9
	frac := ns % 1e9
	h, mi, sec := s/3600, s/60%60, s%60
	dst = append(dst, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+sec/10), byte('0'+sec%10))
	if digits > 0 {
		dst = append(dst, '.')
		for range 9 - digits {
			frac /= 10
		}
		dst = appendPad(dst, frac, digits)
	}
	return dst
}

// appendTime writes a TIME value: HH:MM:SS.fff (millis), .ffffff (micros)
// or .fffffffff (nanos). A value outside the day is written as a number of
// units.
func appendTime(dst []byte, n, unit int64) []byte {
	if n < 0 || n > 86400e9/unit {
		return strconv.AppendInt(dst, n, 10)
	}
	return appendClock(dst, n*unit, fracDigits(unit))
}

// appendTimestamp writes an RFC 3339 timestamp with the unit's fraction
// digits, and "Z" when adjusted to UTC.
func appendTimestamp(dst []byte, n, unit int64, utc bool) []byte {
	perDay := 86400e9 / unit
	days, rem := n/perDay, n%perDay
	if rem < 0 {
		days--
		rem += perDay
	}
	dst = appendDate(dst, days)
	dst = append(dst, 'T')
	dst = appendClock(dst, rem*unit, fracDigits(unit))
	if utc {
		dst = append(dst, 'Z')
	}
	return dst
}

// appendInt96 writes a legacy INT96 timestamp (nanoseconds of the day as
// an int64, then the Julian day as an int32) with nanoseconds and no
// zone, as Arrow reads it.
//
// Writers compute the two parts from a count of microseconds since 1970
// (Spark: days and time of day of micros + the epoch's Julian day, in
// int64): past about year 2262, or before 1677, that sum wraps around and
// so do the parts. The reader undoes it the same way, in wrapping int64
// microseconds, which is exact for any time within about 292,000 years of
// 1970; the nanoseconds below the microsecond are kept.
func appendInt96(dst []byte, v deprecated.Int96) []byte {
	ns := int64(uint64(v[1])<<32 | uint64(v[0]))
	day := int64(int32(v[2]))
	const usPerDay = 86400e6
	const epoch = 2440588 // Julian day of 1970-01-01
	// Wraps around like the writer's sum.
	us := day*usPerDay + floorDiv(ns, 1000) - epoch*usPerDay
	sub := ns - floorDiv(ns, 1000)*1000
	days := floorDiv(us, usPerDay)
	dst = appendDate(dst, days)
	dst = append(dst, 'T')
	return appendClock(dst, (us-days*usPerDay)*1000+sub, 9)
}

// floorDiv is a / b rounded down (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b < 0 {
		q--
	}
	return q
}

// appendInterval writes an INTERVAL (months, days, milliseconds, each a
// little-endian uint32) as an ISO 8601 duration: P1M2DT3.004S.
func appendInterval(dst, b []byte) []byte {
	if len(b) != 12 {
		return append(dst, b...)
	}
	months := binary.LittleEndian.Uint32(b)
	days := binary.LittleEndian.Uint32(b[4:])
	ms := binary.LittleEndian.Uint32(b[8:])
	dst = append(dst, 'P')
	dst = strconv.AppendUint(dst, uint64(months), 10)
	dst = append(dst, 'M')
	dst = strconv.AppendUint(dst, uint64(days), 10)
	dst = append(dst, 'D', 'T')
	dst = strconv.AppendUint(dst, uint64(ms/1000), 10)
	dst = append(dst, '.')
	dst = appendPad(dst, int64(ms%1000), 3)
	return append(dst, 'S')
}
