package jsonenc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func encodingJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	var all strings.Builder
	for b := range 256 {
		all.WriteByte(byte(b))
	}
	for _, s := range []string{
		"", "plain", `"quoted" \ back`, "<script>&</script>", "\u2028\u2029", "é日本😀", "\x00\x01\x1f\x7f",
		"\xff", "a\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\ufffd", all.String(),
	} {
		if got, want := string(AppendString(nil, s)), encodingJSON(t, s); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
		if got, want := string(AppendString(nil, []byte(s))), encodingJSON(t, s); got != want {
			t.Errorf("AppendString([]byte(%q)) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote\back`, "\x00\x1f\b\f\n\r\t", "<&>", "é ✓ 𝄞", "\u2028\u2029", "bad \xff\xfe utf8", "\xed\xa0\x80"} {
		if got, want := string(AppendString(nil, s)), encodingJSON(t, s); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
		if got, want := string(AppendString(nil, []byte(s))), encodingJSON(t, s); got != want {
			t.Errorf("AppendString([]byte(%q)) = %s, want %s", s, got, want)
		}
		if !NeedsEscape(s) && string(AppendEscaped(nil, s)) != s {
			t.Errorf("NeedsEscape(%q) is false but AppendEscaped changes it", s)
		}
	}
}

// FuzzAppendString: the output equals encoding/json's (which replaces
// invalid UTF-8 the same way) and is valid JSON and UTF-8.
func FuzzAppendString(f *testing.F) {
	f.Add("hello")
	f.Add("\xff\u2028\"\\\x01")
	f.Fuzz(func(t *testing.T, s string) {
		got := AppendString(nil, s)
		if want := encodingJSON(t, s); string(got) != want {
			t.Fatalf("AppendString(%q) = %s, encoding/json = %s", s, got, want)
		}
		if !json.Valid(got) || !utf8.Valid(got) {
			t.Fatalf("invalid output %q", got)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	s := []byte(`{"action":"sendMessage","message":"hello, world — ✓"}`)
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendString(dst[:0], s)
	}
}
