package hub

import (
	"context"
	"fmt"
	"testing"

	"github.com/switchboardhq/switchboard/internal/config"
	"github.com/switchboardhq/switchboard/internal/ws"
)

// discard is a Sender that drops frames, so the benchmarks measure the
// hub alone (ws's BenchmarkSend measures queueing on a connection).
type discard struct{}

func (discard) Send(ws.Frame) error { return nil }

func (discard) SendMessage(*ws.Message) error { return nil }

func benchHub(b *testing.B, history bool) *Hub {
	ns := config.Namespace{Pattern: "*", Subscribe: "allow"}
	if history {
		ns.History = config.History{Size: 100}
	}
	return newHub(&testing.T{}, ns)
}

// BenchmarkPublish publishes a 100-byte JSON payload to a channel of n
// members; ns/op is per publication, and the delivery figure is
// ns/op ÷ n.
func BenchmarkPublish(b *testing.B) {
	payload := []byte(`{"t":1764225600000000000,"seq":12345,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
	for _, n := range []int{1, 1000, 15000} {
		for _, v1 := range []bool{false, true} {
			for _, hist := range []bool{false, true} {
				name := fmt.Sprintf("members=%d/v1=%t/history=%t", n, v1, hist)
				b.Run(name, func(b *testing.B) {
					h := benchHub(b, hist)
					ctx := context.Background()
					for i := range n {
						if _, err := h.Subscribe(ctx, NewMember(fmt.Sprint(i), "", nil, codecOf(v1), discard{}), "room", SubscribeOptions{}); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						if _, err := h.Publish(ctx, "room", payload, ""); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
				})
			}
		}
	}
}

// BenchmarkSubscribe measures joining and leaving a busy channel.
func BenchmarkSubscribe(b *testing.B) {
	h := benchHub(b, false)
	ctx := context.Background()
	for i := range 10000 {
		if _, err := h.Subscribe(ctx, NewMember(fmt.Sprint(i), "", nil, V1, discard{}), "room", SubscribeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	m := NewMember("x", "", nil, V1, discard{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Subscribe(ctx, m, "room", SubscribeOptions{ReplyID: 1}); err != nil {
			b.Fatal(err)
		}
		if _, err := h.Unsubscribe(m, "room", false, ""); err != nil {
			b.Fatal(err)
		}
	}
}
