package route

import (
	"fmt"
	"strings"
	"testing"
)

func benchmarkEvaluate(b *testing.B, expr string, body []byte, want string) {
	e, err := Parse(expr)
	if err != nil {
		b.Fatal(err)
	}
	if got, _ := e.Evaluate(body); got != want {
		b.Fatalf("Evaluate = %q, want %q", got, want)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		e.Evaluate(body)
	}
}

// body4K is a 4 KiB object whose "action" member comes last.
func body4K() []byte {
	var sb strings.Builder
	sb.WriteByte('{')
	for i := 0; sb.Len() < 4096-32; i++ {
		fmt.Fprintf(&sb, `"field%d":"%s",`, i, strings.Repeat("x", 40))
	}
	sb.WriteString(`"action":"sendMessage"}`)
	return []byte(sb.String())
}

func BenchmarkEvaluate(b *testing.B) {
	chat := []byte(`{"action":"sendMessage","message":"hello world"}`)
	b.Run("chat", func(b *testing.B) {
		benchmarkEvaluate(b, `$request.body.action`, chat, "sendMessage")
	})
	b.Run("4KiB-key-last", func(b *testing.B) {
		benchmarkEvaluate(b, `$request.body.action`, body4K(), "sendMessage")
	})
	b.Run("template", func(b *testing.B) {
		benchmarkEvaluate(b, `${request.body.service}/${request.body.action}`,
			[]byte(`{"service":"chat","action":"send","message":"hello world"}`), "chat/send")
	})
	b.Run("static", func(b *testing.B) {
		benchmarkEvaluate(b, `\$default`, chat, "$default")
	})
}

func BenchmarkLookup(b *testing.B) {
	body := body4K()
	p, _ := ParsePath(".action")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		Lookup(body, p)
	}
}
