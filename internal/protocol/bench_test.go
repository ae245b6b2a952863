package protocol

import (
	"strings"
	"testing"
)

var (
	benchSubscribe = []byte(`{"type":"subscribe","id":17,"channel":"chat:lobby"}`)
	benchRecover   = []byte(`{"type":"subscribe","id":18,"channel":"chat:lobby","recover":{"epoch":"kq3MTHfT","offset":41}}`)
	benchPublish   = []byte(`{"type":"publish","id":19,"channel":"chat:lobby","data":{"user":"alice","text":"hello, everyone in the lobby"},"excludeSelf":true}`)
	// benchPayload is a 100-byte JSON payload.
	benchPayload = []byte(`{"user":"alice","text":"` + strings.Repeat("x", 100-len(`{"user":"alice","text":""}`)) + `"}`)
)

func benchmarkDecode(b *testing.B, frame []byte) {
	if _, _, err := Decode(frame); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		Decode(frame)
	}
}

func BenchmarkDecodeSubscribe(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchmarkDecode(b, benchSubscribe) })
	b.Run("recover", func(b *testing.B) { benchmarkDecode(b, benchRecover) })
}

func BenchmarkDecodePublish(b *testing.B) {
	benchmarkDecode(b, benchPublish)
}

func BenchmarkAppendPub(b *testing.B) {
	if len(benchPayload) != 100 {
		b.Fatalf("payload is %d bytes, want 100", len(benchPayload))
	}
	pos := &Position{Epoch: "kq3MTHfT", Offset: 45}
	kind := Classify(benchPayload)
	buf := AppendPub(nil, "chat:lobby", pos, benchPayload, kind)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPub(buf[:0], "chat:lobby", pos, benchPayload, kind)
	}
}

func BenchmarkClassify(b *testing.B) {
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		Classify(benchPayload)
	}
}

// TestAllocs pins the allocation counts the package documents.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	pos := &Position{Epoch: "kq3MTHfT", Offset: 45}
	buf := make([]byte, 0, 512)
	for _, tc := range []struct {
		name string
		want float64
		f    func()
	}{
		{"Decode subscribe (the channel)", 1, func() { Decode(benchSubscribe) }},
		{"Decode subscribe with recover (channel, Position, epoch)", 3, func() { Decode(benchRecover) }},
		{"Decode publish (the channel)", 1, func() { Decode(benchPublish) }},
		{"AppendPub into room", 0, func() { AppendPub(buf[:0], "chat:lobby", pos, benchPayload, PayloadData) }},
		{"AppendPub text into room", 0, func() { AppendPub(buf[:0], "chat:lobby", pos, benchPayload, PayloadText) }},
		{"AppendPub b64 into room", 0, func() { AppendPub(buf[:0], "chat:lobby", pos, benchPayload, PayloadBase64) }},
		{"AppendPub into nil", 1, func() { AppendPub(nil, "chat:lobby", pos, benchPayload, PayloadBase64) }},
		{"Classify", 0, func() { Classify(benchPayload) }},
	} {
		if got := testing.AllocsPerRun(100, tc.f); got != tc.want {
			t.Errorf("%s: %v allocations, want %v", tc.name, got, tc.want)
		}
	}
}
