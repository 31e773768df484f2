package postgres

import (
	"errors"
	"math"
)

// PostgreSQL's binary timestamps count microseconds from 2000-01-01 00:00 UTC
// and dates count days from 2000-01-01.

const (
	usPerSecond = 1_000_000
	usPerDay    = 86_400 * usPerSecond
)

var (
	errDate = errors.New("expected YYYY-MM-DD")
	errTime = errors.New("expected YYYY-MM-DD[T ]HH:MM[:SS[.fraction]][Z|±HH[:MM]]")
	errZone = errors.New("invalid time zone offset")
)

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date
// (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

var pgEpochDays = daysFromCivil(2000, 1, 1)

func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, len(b) > 0
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// maxYear is the last year of PostgreSQL's timestamps and dates.
const maxYear = 294276

// parseDateParts reads YYYY-MM-DD at the start of b (the year may have up
// to 6 digits, to maxYear) and returns the days since the PostgreSQL
// epoch and the rest of b.
func parseDateParts(b []byte) (int64, []byte, error) {
	n := 4 // digits of the year
	for n < 6 && n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	if len(b) < n+6 || b[n] != '-' || b[n+3] != '-' {
		return 0, nil, errDate
	}
	y, ok1 := digits(b[0:n])
	m, ok2 := digits(b[n+1 : n+3])
	d, ok3 := digits(b[n+4 : n+6])
	if !ok1 || !ok2 || !ok3 || y > maxYear || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, nil, errDate
	}
	return daysFromCivil(y, m, d) - pgEpochDays, b[n+6:], nil
}

func parseDate(b []byte) (int32, error) {
	days, rest, err := parseDateParts(b)
	if err != nil {
		return 0, err
	}
	if len(rest) != 0 {
		return 0, errDate
	}
	return int32(days), nil
}

// parseTimestamp parses ISO 8601 / RFC 3339 timestamps and PostgreSQL's
// output form: a date, optionally followed by 'T' or ' ' and HH:MM[:SS[.f]],
// optionally followed by Z or an offset ±HH, ±HHMM, ±HH:MM (a space may
// precede it). Without a zone the time is UTC. For timestamp without time
// zone (withZone false) a given offset is ignored, as PostgreSQL does.
// "infinity" and "-infinity" are accepted.
func parseTimestamp(b []byte, withZone bool) (int64, error) {
	switch string(b) {
	case "infinity", "Infinity":
		return math.MaxInt64, nil
	case "-infinity", "-Infinity":
		return math.MinInt64, nil
	}
	days, rest, err := parseDateParts(b)
	if err != nil {
		return 0, errTime
	}
	us := days * usPerDay
	if len(rest) == 0 {
		return us, nil
	}
	if rest[0] != 'T' && rest[0] != 't' && rest[0] != ' ' {
		return 0, errTime
	}
	rest = rest[1:]
	if len(rest) < 5 || rest[2] != ':' {
		return 0, errTime
	}
	hh, ok1 := digits(rest[0:2])
	mm, ok2 := digits(rest[3:5])
	if !ok1 || !ok2 || hh > 24 || mm > 59 {
		return 0, errTime
	}
	rest = rest[5:]
	var ss int64
	if len(rest) >= 3 && rest[0] == ':' {
		var ok bool
		ss, ok = digits(rest[1:3])
		if !ok || ss > 60 {
			return 0, errTime
		}
		rest = rest[3:]
	}
	var frac int64
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		i := 1
		scale := int64(100_000)
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if scale > 0 {
				frac += int64(rest[i]-'0') * scale
				scale /= 10
			} else if scale == 0 && rest[i] >= '5' {
				frac++ // round half up at the 7th digit
				scale = -1
			} else {
				scale = -1
			}
			i++
		}
		if i == 1 {
			return 0, errTime
		}
		rest = rest[i:]
	}
	if hh == 24 && (mm != 0 || ss != 0 || frac != 0) {
		return 0, errTime
	}
	us += ((hh*60+mm)*60+ss)*usPerSecond + frac
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		return us, nil
	}
	var off int64
	switch rest[0] {
	case 'Z', 'z':
		if len(rest) != 1 {
			return 0, errZone
		}
	case '+', '-':
		z := rest[1:]
		var oh, om int64
		var ok bool
		switch {
		case len(z) == 2:
			oh, ok = digits(z)
		case len(z) == 4:
			oh, ok = digits(z[0:2])
			if ok {
				om, ok = digits(z[2:4])
			}
		case len(z) == 5 && z[2] == ':':
			oh, ok = digits(z[0:2])
			if ok {
				om, ok = digits(z[3:5])
			}
		}
		if !ok || oh > 15 || om > 59 {
			return 0, errZone
		}
		off = (oh*60 + om) * 60 * usPerSecond
		if rest[0] == '-' {
			off = -off
		}
	default:
		if string(rest) == "UTC" {
			break
		}
		return 0, errZone
	}
	if !withZone {
		return us, nil
	}
	return us - off, nil
}
