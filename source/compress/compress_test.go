package compress

import (
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// csvData returns n lines of CSV-like text.
func csvData(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "%d,user-%d,%d.%02d,2024-01-%02dT10:%02d:00Z,true,\"note %d\"\n", i, i*7%1000, i%5000, i%100, i%28+1, i%60, i)
	}
	return b.Bytes()
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := stdgzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func zst(t testing.TB, data []byte) []byte {
	t.Helper()
	w, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(data, nil)
}

func TestReader(t *testing.T) {
	data := csvData(20000) // ~1.3 MB: several zstd blocks and flate blocks
	multi := append(gz(t, data[:1000]), gz(t, data[1000:])...)
	tests := []struct {
		name, mode, key string
		in              []byte
		want            []byte
		resolved        string
	}{
		{"plain auto", Auto, "a.csv", data, data, None},
		{"plain empty mode", "", "a.csv", data, data, None},
		{"plain none", None, "a.csv", data, data, None},
		{"plain tiny", Auto, "a", []byte("x"), []byte("x"), None},
		{"plain gzip magic prefix only", Auto, "a", []byte{0x1f}, []byte{0x1f}, None},
		{"plain empty", Auto, "a", nil, nil, None},
		{"gzip ext", Auto, "dir/a.csv.gz", gz(t, data), data, Gzip},
		{"gzip ext upper", Auto, "A.CSV.GZIP", gz(t, data), data, Gzip},
		{"gzip magic", Auto, "a.csv", gz(t, data), data, Gzip},
		{"gzip magic no ext", Auto, "a", gz(t, data), data, Gzip},
		{"gzip multi-member", Auto, "a.gz", multi, data, Gzip},
		{"gzip multi-member magic", Auto, "a", multi, data, Gzip},
		{"gzip empty content", Auto, "a.gz", gz(t, nil), nil, Gzip},
		{"zstd ext", Auto, "a.jsonl.zst", zst(t, data), data, Zstd},
		{"zstd ext long", Auto, "a.zstd", zst(t, data), data, Zstd},
		{"zstd magic", Auto, "a", zst(t, data), data, Zstd},
		{"zstd multi-frame", Auto, "a", append(zst(t, data[:1000]), zst(t, data[1000:])...), data, Zstd},
		{"explicit none overrides ext", None, "a.gz", data, data, None},
		{"explicit none keeps gzip bytes", None, "a.gz", gz(t, data[:10]), gz(t, data[:10]), None},
		{"explicit gzip overrides ext", Gzip, "a.zst", gz(t, data), data, Gzip},
		{"explicit zstd overrides ext", Zstd, "a.gz", zst(t, data), data, Zstd},
		{"explicit gzip no ext", Gzip, "a", gz(t, data), data, Gzip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, resolved, err := Reader(bytes.NewReader(tt.in), tt.mode, tt.key)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if err := rc.Close(); err != nil {
				t.Fatal(err)
			}
			if resolved != tt.resolved {
				t.Errorf("resolved %q, want %q", resolved, tt.resolved)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("got %d bytes, want %d", len(got), len(tt.want))
			}
		})
	}
}

// TestStdlibGzipMultistream pins the behaviour relied on: both gzip packages
// read every member of a multi-member file by default.
func TestStdlibGzipMultistream(t *testing.T) {
	multi := append(gz(t, []byte("one\n")), gz(t, []byte("two\n"))...)
	sr, err := stdgzip.NewReader(bytes.NewReader(multi))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := kgzip.NewReader(bytes.NewReader(multi))
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]io.Reader{"compress/gzip": sr, "klauspost gzip": kr} {
		got, err := io.ReadAll(r)
		if err != nil || string(got) != "one\ntwo\n" {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
}

func TestTruncated(t *testing.T) {
	data := csvData(20000)
	g, z := gz(t, data), zst(t, data)
	tests := []struct {
		name, key string
		in        []byte
	}{
		{"gzip trailer cut", "a.gz", g[:len(g)-4]},
		{"gzip trailer gone", "a.gz", g[:len(g)-8]},
		{"gzip half", "a.gz", g[:len(g)/2]},
		{"gzip header only", "a.gz", g[:10]},
		{"gzip partial header", "a.gz", g[:5]},
		{"gzip second member cut", "a.gz", append(gz(t, data[:100]), g[:len(g)/2]...)},
		{"zstd last byte cut", "a.zst", z[:len(z)-1]},
		{"zstd half", "a.zst", z[:len(z)/2]},
		{"zstd magic only", "a.zst", z[:4]},
		{"zstd half magic", "a", z[:len(z)/2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, _, err := Reader(bytes.NewReader(tt.in), Auto, tt.key)
			if err != nil {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("open: %v, want io.ErrUnexpectedEOF", err)
				}
				return
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("read %d of %d bytes, then %v; want io.ErrUnexpectedEOF", len(got), len(data), err)
			}
		})
	}
}

func TestCorrupt(t *testing.T) {
	data := csvData(2000)
	g, z := gz(t, data), zst(t, data)
	g[len(g)/2] ^= 0xff
	z[len(z)/2] ^= 0xff
	for name, in := range map[string][]byte{"a.gz": g, "a.zst": z, "b.gz": []byte("not gzip at all"), "b.zst": []byte("not zstd at all")} {
		rc, _, err := Reader(bytes.NewReader(in), Auto, name)
		if err == nil {
			_, err = io.ReadAll(rc)
			rc.Close()
		}
		if err == nil {
			t.Errorf("%s: corrupt stream read without error", name)
		}
	}
}

// TestPoolReuse opens many readers in sequence, with readers closed early,
// so pooled decoders are reset and reused.
func TestPoolReuse(t *testing.T) {
	data := csvData(3000)
	for i := range 50 {
		for _, in := range []struct {
			key string
			b   []byte
		}{{"a.gz", gz(t, data)}, {"a.zst", zst(t, data)}} {
			rc, _, err := Reader(bytes.NewReader(in.b), Auto, in.key)
			if err != nil {
				t.Fatal(err)
			}
			if i%3 == 0 { // abandon part-way
				if _, err := io.ReadFull(rc, make([]byte, 100)); err != nil {
					t.Fatal(err)
				}
				rc.Close()
				rc.Close() // idempotent
				continue
			}
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s round %d: %d bytes, %v", in.key, i, len(got), err)
			}
			rc.Close()
		}
	}
}

func TestReadAfterClose(t *testing.T) {
	for _, key := range []string{"a.gz", "a.zst"} {
		var in []byte
		if strings.HasSuffix(key, ".gz") {
			in = gz(t, []byte("x"))
		} else {
			in = zst(t, []byte("x"))
		}
		rc, _, err := Reader(bytes.NewReader(in), Auto, key)
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if _, err := rc.Read(make([]byte, 1)); err == nil {
			t.Errorf("%s: read after close succeeded", key)
		}
	}
}

func TestBadMode(t *testing.T) {
	if _, _, err := Reader(strings.NewReader(""), "brotli", "a"); err == nil {
		t.Error("unknown mode accepted")
	}
	for _, m := range []string{Auto, None, Gzip, Zstd} {
		if err := ValidMode(m); err != nil {
			t.Error(err)
		}
	}
}

func BenchmarkGzip(b *testing.B) {
	data := csvData(200000) // ~13 MB
	in := gz(b, data)
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			r, err := stdgzip.NewReader(bytes.NewReader(in))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, struct{ io.Reader }{r}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("klauspost", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			r, err := kgzip.NewReader(bytes.NewReader(in))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, struct{ io.Reader }{r}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Reader", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			r, _, err := Reader(bytes.NewReader(in), Auto, "a.gz")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, struct{ io.Reader }{r}); err != nil {
				b.Fatal(err)
			}
			r.Close()
		}
	})
}

func BenchmarkZstd(b *testing.B) {
	data := csvData(200000)
	in := zst(b, data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, _, err := Reader(bytes.NewReader(in), Auto, "a.zst")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, struct{ io.Reader }{r}); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

// TestEmpty: a zero-byte compressed file is an empty stream, as a
// zero-byte plain file is.
func TestEmpty(t *testing.T) {
	for _, key := range []string{"a.gz", "a.zst", "a.csv"} {
		for _, mode := range []string{Auto, FromExt(key)} {
			if mode == "" {
				continue
			}
			rc, _, err := Reader(bytes.NewReader(nil), mode, key)
			if err != nil {
				t.Fatalf("%s (%s): open: %v", key, mode, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || len(got) != 0 {
				t.Fatalf("%s (%s): %q, %v; want an empty stream", key, mode, got, err)
			}
		}
	}
}

// TestGzipTrailing: zero bytes after the last member are padding, skipped
// as GNU gzip skips them; anything else after a member is an error.
func TestGzipTrailing(t *testing.T) {
	data := csvData(200)
	one := gz(t, data)
	two := append(gz(t, data[:100]), gz(t, data[100:])...)
	zeros := func(n int) []byte { return make([]byte, n) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"one member, zero padding", cat(one, zeros(512)), true},
		{"two members, one zero byte", cat(two, zeros(1)), true},
		{"padding longer than the read buffer", cat(one, zeros(3*bufSize+7)), true},
		{"zeros then data", cat(one, zeros(100), []byte("x")), false},
		{"zeros then a member", cat(one, zeros(10), gz(t, data)), false},
		{"garbage after a member", cat(one, []byte("garbage")), false},
		{"a second member cut short", cat(one, gz(t, data)[:5]), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, _, err := Reader(bytes.NewReader(tt.in), Auto, "a.gz")
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			// Small reads, to cross member boundaries mid-read.
			got, err := io.ReadAll(iotest.OneByteReader(rc))
			if tt.ok {
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read %d of %d bytes, then %v", len(got), len(data), err)
				}
				return
			}
			if err == nil {
				t.Fatalf("read %d bytes without error", len(got))
			}
			if !strings.HasPrefix(err.Error(), "gzip: ") {
				t.Errorf("error %q does not name gzip", err)
			}
			if tt.name == "garbage after a member" && !errors.Is(err, kgzip.ErrHeader) {
				t.Errorf("garbage after a member: %v, want %v", err, kgzip.ErrHeader)
			}
		})
	}
}
