package lines

import (
	"bytes"
	"io"
	"strconv"
	"testing"

	"github.com/ferrydata/ferry/source"
	"github.com/ferrydata/ferry/source/format"
	"github.com/ferrydata/ferry/source/format/internal/formattest"
)

// benchLines is about size bytes of application log lines like
// "2024-03-01T12:34:56.123Z INFO handled request id=42 path=/api/v1/users/7 status=200 took=12ms".
func benchLines(size int) []byte {
	levels := []string{"INFO", "DEBUG", "WARN", "ERROR"}
	var buf bytes.Buffer
	for i := 0; buf.Len() < size; i++ {
		buf.WriteString("2024-03-01T12:34:56.")
		buf.WriteString(strconv.Itoa(100 + i%900))
		buf.WriteString("Z ")
		buf.WriteString(levels[i%len(levels)])
		buf.WriteString(" handled request id=")
		buf.WriteString(strconv.Itoa(i))
		buf.WriteString(" path=/api/v1/users/")
		buf.WriteString(strconv.Itoa(i % 10007))
		buf.WriteString(" status=200 took=")
		buf.WriteString(strconv.Itoa(i % 97))
		buf.WriteString("ms\n")
	}
	return buf.Bytes()
}

// benchALB is about size bytes of ALB access log lines of the current
// format, about 500 bytes each.
func benchALB(size int) []byte {
	var buf bytes.Buffer
	for i := 0; buf.Len() < size; i++ {
		n := strconv.Itoa(i)
		buf.WriteString("https 2024-03-01T12:34:56.")
		buf.WriteString(strconv.Itoa(100000 + i%900000))
		buf.WriteString("Z app/prod-alb/50dc6c495c0c9188 203.0.113.")
		buf.WriteString(strconv.Itoa(i % 250))
		buf.WriteString(":")
		buf.WriteString(strconv.Itoa(1024 + i%60000))
		buf.WriteString(" 10.0.1.17:8080 0.000 0.0")
		buf.WriteString(strconv.Itoa(10 + i%90))
		buf.WriteString(" 0.000 200 200 512 ")
		buf.WriteString(strconv.Itoa(1000 + i%5000))
		buf.WriteString(` "GET https://api.example.com:443/v1/users/`)
		buf.WriteString(n)
		buf.WriteString(`?expand=orders HTTP/1.1" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15" `)
		buf.WriteString(`ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api/73e2d6bc24d8a067 "Root=1-65e1c9a0-`)
		buf.WriteString(n)
		buf.WriteString(`" "api.example.com" "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2024-03-01T12:34:56.000000Z "forward" "-" "-" "10.0.1.17:8080" "200" "-" "-" TID_`)
		buf.WriteString(n)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func benchRead(b *testing.B, data []byte, o format.Options) {
	formattest.Bench(b, data, func(r io.Reader) (format.Reader, error) {
		return New(r, o, source.Position{})
	})
}

func BenchmarkLines(b *testing.B) {
	benchRead(b, benchLines(20<<20), format.Options{Format: format.Lines})
}

func BenchmarkLinesALB(b *testing.B) {
	benchRead(b, benchALB(4<<20), format.Options{Format: format.Lines, Preset: "alb"})
}
