package lines

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/ferrydata/ferry/pusher"
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

// benchALBLong is about size bytes of ALB access log lines of about 1.5
// KB: long query strings, a long user agent, a redirect URL and several
// targets. Lines this long push regexp off its fast engines.
func benchALBLong(size int) []byte {
	var buf bytes.Buffer
	query := strings.Repeat("&utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale", 5)
	for i := 0; buf.Len() < size; i++ {
		n := strconv.Itoa(i)
		buf.WriteString("h2 2024-03-01T12:34:56.")
		buf.WriteString(strconv.Itoa(100000 + i%900000))
		buf.WriteString("Z app/prod-alb/50dc6c495c0c9188 2001:db8:85a3::8a2e:370:")
		buf.WriteString(strconv.Itoa(1000 + i%9000))
		buf.WriteString(":")
		buf.WriteString(strconv.Itoa(1024 + i%60000))
		buf.WriteString(" 10.0.1.17:8080 0.000 0.0")
		buf.WriteString(strconv.Itoa(10 + i%90))
		buf.WriteString(" 0.000 302 302 1840 ")
		buf.WriteString(strconv.Itoa(1000 + i%5000))
		buf.WriteString(` "GET https://shop.example.com:443/catalog/search?q=red+shoes&page=`)
		buf.WriteString(n)
		buf.WriteString(query)
		buf.WriteString(` HTTP/2.0" "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1 [FBAN/FBIOS;FBAV/449.0.0.41.110;FBBV/567892233;FBDV/iPhone15,3;FBMD/iPhone;FBSN/iOS;FBSV/17.2;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]" `)
		buf.WriteString(`TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop/73e2d6bc24d8a067 "Root=1-65e1c9a0-`)
		buf.WriteString(n)
		buf.WriteString(`" "shop.example.com" "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 3 2024-03-01T12:34:56.000000Z "waf,redirect,forward" `)
		buf.WriteString(`"https://shop.example.com:443/catalog/search?q=red+shoes&page=`)
		buf.WriteString(n)
		buf.WriteString(query)
		buf.WriteString(`" "-" "10.0.1.17:8080 10.0.1.18:8080" "302 302" "-" "-" TID_`)
		buf.WriteString(n)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// benchCombined is about size bytes of nginx combined log lines.
func benchCombined(size int) []byte {
	var buf bytes.Buffer
	for i := 0; buf.Len() < size; i++ {
		buf.WriteString("203.0.113.")
		buf.WriteString(strconv.Itoa(i % 250))
		buf.WriteString(` - - [01/Mar/2024:12:34:`)
		buf.WriteString(strconv.Itoa(10 + i%50))
		buf.WriteString(` +0000] "GET /api/v1/users/`)
		buf.WriteString(strconv.Itoa(i))
		buf.WriteString(`?expand=orders HTTP/1.1" 200 `)
		buf.WriteString(strconv.Itoa(100 + i%5000))
		buf.WriteString(` "https://www.example.com/dashboard" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36"`)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// benchS3 is about size bytes of S3 server access log lines of the
// current format.
func benchS3(size int) []byte {
	var buf bytes.Buffer
	const owner = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
	for i := 0; buf.Len() < size; i++ {
		n := strconv.Itoa(i)
		buf.WriteString(owner + ` amzn-s3-demo-bucket [06/Feb/2024:00:00:`)
		buf.WriteString(strconv.Itoa(10 + i%50))
		buf.WriteString(` +0000] 192.0.2.`)
		buf.WriteString(strconv.Itoa(i % 250))
		buf.WriteString(` arn:aws:iam::123456789012:user/alice 3E57427F3EXAMPLE`)
		buf.WriteString(n)
		buf.WriteString(` REST.GET.OBJECT photos/2024/img_`)
		buf.WriteString(n)
		buf.WriteString(`.jpg "GET /amzn-s3-demo-bucket/photos/2024/img_`)
		buf.WriteString(n)
		buf.WriteString(`.jpg?x-id=GetObject HTTP/1.1" 200 - `)
		buf.WriteString(strconv.Itoa(10000 + i%90000))
		buf.WriteString(` 5242880 55 12 "-" "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2 prompt/off command/s3.cp" - `)
		buf.WriteString(`s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 TLS_AES_128_GCM_SHA256 AuthHeader `)
		buf.WriteString(`amzn-s3-demo-bucket.s3.us-east-1.amazonaws.com TLSv1.3 - -`)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func benchRead(b *testing.B, data []byte, o format.Options) {
	formattest.Bench(b, data, func(r io.Reader) (format.Reader, error) {
		return New(r, o, pusher.Position{})
	})
}

func BenchmarkLines(b *testing.B) {
	benchRead(b, benchLines(20<<20), format.Options{Format: format.Lines})
}

func BenchmarkLinesALB(b *testing.B) {
	benchRead(b, benchALB(4<<20), format.Options{Format: format.Lines, Preset: "alb"})
}

func BenchmarkLinesALBLong(b *testing.B) {
	benchRead(b, benchALBLong(4<<20), format.Options{Format: format.Lines, Preset: "alb"})
}

func BenchmarkLinesCombined(b *testing.B) {
	benchRead(b, benchCombined(4<<20), format.Options{Format: format.Lines, Preset: "combined"})
}

func BenchmarkLinesS3Access(b *testing.B) {
	benchRead(b, benchS3(4<<20), format.Options{Format: format.Lines, Preset: "s3-access"})
}

// BenchmarkPresetRegex reads the preset benchmarks' data with the presets'
// regexes given as Options.Regex, which regexp matches: what the presets
// cost without their scanners.
func BenchmarkPresetRegex(b *testing.B) {
	for _, bb := range []struct {
		name string
		data func(int) []byte
		re   string
	}{
		{"alb", benchALB, ALB},
		{"alb-long", benchALBLong, ALB},
		{"combined", benchCombined, Combined},
		{"s3-access", benchS3, S3Access},
	} {
		b.Run(bb.name, func(b *testing.B) {
			benchRead(b, bb.data(4<<20), format.Options{Format: format.Lines, Regex: bb.re})
		})
	}
}
